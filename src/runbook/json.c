/*
 * json.c — JSON with comments and positions (see json.h).
 *
 * Two passes over the text: a strict scanner of our own that checks syntax,
 * blanks comments out of a copy and records, in document order, where every
 * value (and its key) starts; then cJSON builds the tree from the blanked
 * copy, and a walk of that tree in the same order pairs each node with its
 * recorded position. The scanner recurses at most JSON_MAX_DEPTH levels, so
 * cJSON never sees a document deeper than that.
 */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/json.h"

#define NO_KEY UINT32_MAX

struct pos {
	uint32_t key_off; /* offset of the key's opening quote, or NO_KEY */
	uint32_t val_off; /* offset of the value's first byte, its json_src above POS_SRC_SHIFT */
};

/* Offsets stay below JSON_MAX_BYTES (2^26): the top bits say how a string is written. */
#define POS_SRC_SHIFT 28
#define POS_OFF(v) ((v) & ((1u << POS_SRC_SHIFT) - 1))
#define POS_SRC(v) ((enum json_src)((v) >> POS_SRC_SHIFT))

/*
 * The tree of a document is allocated from an arena of its own and dropped
 * whole: a runbook of 100,000 steps is millions of cJSON nodes, and freeing
 * them one by one cost more than parsing them. cJSON takes allocation hooks
 * for the whole process, so the arena is used only while json_doc_parse runs
 * cJSON (on the one thread of control); at any other time the hooks are
 * plain malloc and free. Nodes of a document tree must never be passed to
 * cJSON_Delete: json_doc_free drops the arena instead.
 */
struct arena {
	struct arena *next;
	size_t used, cap;
	max_align_t data[];
};

static struct arena **arena_active;

static void *arena_malloc(size_t n)
{
	if (!arena_active)
		return malloc(n);
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	struct arena *a = *arena_active;
	if (!a || a->cap - a->used < n) {
		size_t cap = n > ((size_t)1 << 20) ? n : (size_t)1 << 20;
		a = malloc(sizeof *a + cap);
		if (!a)
			return NULL;
		a->next = *arena_active;
		a->used = 0;
		a->cap = cap;
		*arena_active = a;
	}
	void *p = (char *)a->data + a->used;
	a->used += n;
	return p;
}

static void arena_free(void *p)
{
	/* Inside the window everything cJSON frees came from the arena. */
	if (!arena_active)
		free(p);
}

static void arena_drop(struct arena *a)
{
	while (a) {
		struct arena *next = a->next;
		free(a);
		a = next;
	}
}

/* Parses text into a tree whose nodes live in *arena. */
static void arena_hook(void)
{
	static bool hooked;
	if (!hooked) {
		cJSON_Hooks hooks = {arena_malloc, arena_free};
		cJSON_InitHooks(&hooks);
		hooked = true;
	}
}

static cJSON *parse_in_arena(const char *text, size_t len, struct arena **arena)
{
	arena_hook();
	struct arena **saved = arena_active;
	arena_active = arena;
	cJSON *root = cJSON_ParseWithLength(text, len);
	arena_active = saved;
	return root;
}

struct json_doc {
	char *file;
	char *text;          /* the original bytes */
	size_t len;
	size_t *lines;       /* offset of each line's first byte */
	size_t nlines;
	cJSON *root;         /* lives in arena */
	struct arena *arena;
	struct pos *pos;     /* in document order */
	size_t npos, poscap;
	/* The last position computed: lookups mostly move forward on a line. */
	size_t memo_line, memo_off;
	unsigned memo_col;
	const cJSON *smemo_node; /* the same for positions inside a string */
	size_t smemo_at, smemo_raw;
};

struct scan {
	const char *s;
	size_t n, i;
	size_t base;         /* offset of out[0] in s */
	char *out;           /* blanked copy of s[base..n) */
	struct strbuf path;
	struct pos *pos;
	size_t npos, poscap;
	unsigned depth;
	size_t comment_start;
	bool failed;
	struct json_doc *doc;
	struct rbc_diags *d;
};

static void offset_pos(struct json_doc *doc, size_t off, unsigned *line, unsigned *col)
{
	size_t lo = 0, hi = doc->nlines;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (doc->lines[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	size_t start = doc->lines[lo];
	unsigned base = 1;
	/* A byte-order mark is invisible in editors: columns start after it. */
	if (start == 0 && doc->len >= 3 && memcmp(doc->text, "\xEF\xBB\xBF", 3) == 0 && off >= 3)
		start = 3;
	*line = (unsigned)(lo + 1);
	if (doc->memo_col && doc->memo_line == lo && doc->memo_off >= start && doc->memo_off > off &&
	    doc->memo_off - off < off - start) {
		/* Back from the last position, when that is nearer. */
		*col = doc->memo_col - (unsigned)utf8_count(doc->text + off, doc->memo_off - off);
	} else {
		if (doc->memo_col && doc->memo_line == lo && doc->memo_off <= off && doc->memo_off >= start) {
			start = doc->memo_off;
			base = doc->memo_col;
		}
		*col = (unsigned)(utf8_count(doc->text + start, off - start) + base);
	}
	doc->memo_line = lo;
	doc->memo_off = off;
	doc->memo_col = *col;
}

/* Records a syntax error at offset off; only the first one is kept. */
static void scan_error(struct scan *sc, size_t off, const char *fmt, ...) RBC_PRINTF(3, 4);
static void scan_error(struct scan *sc, size_t off, const char *fmt, ...)
{
	if (sc->failed)
		return;
	sc->failed = true;
	unsigned line, col;
	offset_pos(sc->doc, off, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	char *path = sc->path.len ? xstrdup(sc->path.s) : xstrdup("(root)");
	if (strlen(path) > 120) {
		/* Deep nesting: keep both ends of the path readable. */
		size_t n = strlen(path);
		size_t head = 40, tail = n - 60;
		while (head > 0 && ((unsigned char)path[head] & 0xC0) == 0x80)
			head--;
		while (tail < n && ((unsigned char)path[tail] & 0xC0) == 0x80)
			tail++;
		char *short_path = xasprintf("%.*s…%s", (int)head, path, path + tail);
		free(path);
		path = short_path;
	}
	diags_add(sc->d, false, sc->doc->file, line, col, path, "%s", msg);
	free(path);
	free(msg);
}

/* Describes what stands at offset i, for "found …" in messages. */
static const char *found(const struct scan *sc, size_t i, char *buf, size_t n)
{
	if (i >= sc->n)
		return "end of file";
	unsigned char c = (unsigned char)sc->s[i];
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, n, "'%c'", c);
	else if (c < 0x80)
		snprintf(buf, n, "byte 0x%02x", c);
	else {
		uint32_t cp;
		size_t l = utf8_decode(sc->s + i, sc->n - i, &cp);
		if (l)
			snprintf(buf, n, "'%.*s'", (int)l, sc->s + i);
		else
			snprintf(buf, n, "byte 0x%02x (invalid UTF-8)", c);
	}
	return buf;
}

/* Comments may hold any text, but it must be UTF-8: checks s[from..to). */
static bool check_utf8(struct scan *sc, size_t to)
{
	size_t bad, from = sc->comment_start;
	if (utf8_valid(sc->s + from, to - from, &bad))
		return true;
	scan_error(sc, from + bad, "invalid UTF-8: byte 0x%02x in a comment (save the file as UTF-8)",
	           (unsigned char)sc->s[from + bad]);
	sc->i = sc->n;
	return false;
}

static void skip_ws(struct scan *sc)
{
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			sc->i++;
		} else if (c == '/' && sc->i + 1 < sc->n && sc->s[sc->i + 1] == '/') {
			sc->comment_start = sc->i;
			while (sc->i < sc->n && sc->s[sc->i] != '\n')
				sc->out[sc->i++ - sc->base] = ' ';
			if (!check_utf8(sc, sc->i))
				return;
		} else if (c == '/' && sc->i + 1 < sc->n && sc->s[sc->i + 1] == '*') {
			size_t start = sc->i;
			sc->comment_start = start;
			sc->out[sc->i++ - sc->base] = ' ';
			sc->out[sc->i++ - sc->base] = ' ';
			for (;;) {
				if (sc->i + 1 >= sc->n) {
					scan_error(sc, start, "unterminated comment: '/*' has no '*/'");
					sc->i = sc->n;
					return;
				}
				if (sc->s[sc->i] == '*' && sc->s[sc->i + 1] == '/') {
					sc->out[sc->i++ - sc->base] = ' ';
					sc->out[sc->i++ - sc->base] = ' ';
					if (!check_utf8(sc, sc->i))
						return;
					break;
				}
				if (sc->s[sc->i] != '\n' && sc->s[sc->i] != '\r')
					sc->out[sc->i - sc->base] = ' ';
				sc->i++;
			}
		} else {
			return;
		}
	}
}

/* Reads 4 hex digits at sc->i + 2 (after "\u"); -1 when they are not. */
static long read_u4(const struct scan *sc, size_t at)
{
	if (at + 6 > sc->n)
		return -1;
	long v = 0;
	for (size_t k = 2; k < 6; k++) {
		int h = hex_value(sc->s[at + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Scans a string starting at its opening quote. */
static void scan_string(struct scan *sc)
{
	size_t start = sc->i++;
	while (sc->i < sc->n) {
		unsigned char c = (unsigned char)sc->s[sc->i];
		if (c == '"') {
			sc->i++;
			return;
		}
		if (c == '\n') {
			scan_error(sc, start, "unterminated string: a string ends on its own line (write \\n for a newline)");
			return;
		}
		if (c < 0x20) {
			scan_error(sc, sc->i, "control character 0x%02x in a string: escape it (\\t, \\u%04x)", c, c);
			return;
		}
		if (c >= 0x80) {
			uint32_t cp;
			size_t l = utf8_decode(sc->s + sc->i, sc->n - sc->i, &cp);
			if (!l) {
				scan_error(sc, sc->i, "invalid UTF-8: byte 0x%02x in a string (save the file as UTF-8)", c);
				return;
			}
			sc->i += l;
			continue;
		}
		if (c != '\\') {
			sc->i++;
			continue;
		}
		if (sc->i + 1 >= sc->n)
			break;
		char e = sc->s[sc->i + 1];
		if (strchr("\"\\/bfnrt", e)) {
			sc->i += 2;
			continue;
		}
		if (e != 'u') {
			scan_error(sc, sc->i, "invalid escape '\\%c' in a string (use \\\\ for a backslash)", e);
			return;
		}
		long u = read_u4(sc, sc->i);
		if (u < 0) {
			scan_error(sc, sc->i, "'\\u' needs 4 hex digits");
			return;
		}
		if (u == 0) {
			scan_error(sc, sc->i, "'\\u0000' is not allowed in text (it would end it there)");
			return;
		}
		if (u >= 0xDC00 && u <= 0xDFFF) {
			scan_error(sc, sc->i, "lone low surrogate '\\u%04lx' in a string", u);
			return;
		}
		if (u >= 0xD800 && u <= 0xDBFF) {
			long lo = sc->i + 7 < sc->n && sc->s[sc->i + 6] == '\\' && sc->s[sc->i + 7] == 'u'
			                  ? read_u4(sc, sc->i + 6) : -1;
			if (lo < 0xDC00 || lo > 0xDFFF) {
				scan_error(sc, sc->i, "high surrogate '\\u%04lx' is not followed by a low surrogate", u);
				return;
			}
			sc->i += 12;
			continue;
		}
		sc->i += 6;
	}
	scan_error(sc, start, "unterminated string: no closing '\"'");
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Scans a number in strict JSON syntax. */
static void scan_number(struct scan *sc)
{
	size_t start = sc->i;
	char buf[48];
	if (sc->s[sc->i] == '-')
		sc->i++;
	if (sc->i < sc->n && sc->s[sc->i] == '0') {
		sc->i++;
		if (sc->i < sc->n && is_digit(sc->s[sc->i])) {
			scan_error(sc, start, "invalid number: leading zero");
			return;
		}
	} else if (sc->i < sc->n && is_digit(sc->s[sc->i])) {
		while (sc->i < sc->n && is_digit(sc->s[sc->i]))
			sc->i++;
	} else {
		scan_error(sc, start, "invalid number: expected a digit, found %s",
		           found(sc, sc->i, buf, sizeof buf));
		return;
	}
	if (sc->i < sc->n && sc->s[sc->i] == '.') {
		sc->i++;
		if (sc->i >= sc->n || !is_digit(sc->s[sc->i])) {
			scan_error(sc, sc->i, "invalid number: expected a digit after '.'");
			return;
		}
		while (sc->i < sc->n && is_digit(sc->s[sc->i]))
			sc->i++;
	}
	if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
		sc->i++;
		if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
			sc->i++;
		if (sc->i >= sc->n || !is_digit(sc->s[sc->i])) {
			scan_error(sc, sc->i, "invalid number: expected a digit in the exponent");
			return;
		}
		while (sc->i < sc->n && is_digit(sc->s[sc->i]))
			sc->i++;
	}
	if (sc->i - start > 60) {
		scan_error(sc, start, "number too long (at most 60 characters)");
		return;
	}
	char digits[64];
	memcpy(digits, sc->s + start, sc->i - start);
	digits[sc->i - start] = '\0';
	if (!isfinite(strtod(digits, NULL))) {
		scan_error(sc, start, "number out of range");
		return;
	}
	if (sc->i < sc->n && (is_digit(sc->s[sc->i]) || strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_%", sc->s[sc->i]))) {
		scan_error(sc, start, "invalid number: unexpected %s after it (write text in quotes, e.g. \"30s\")",
		           found(sc, sc->i, buf, sizeof buf));
	}
}

static void push_pos(struct scan *sc, size_t key_off, size_t val_off)
{
	xgrow(&sc->pos, &sc->poscap, sc->npos + 1, sizeof *sc->pos);
	sc->pos[sc->npos].key_off = (uint32_t)key_off;
	sc->pos[sc->npos].val_off = (uint32_t)val_off;
	sc->npos++;
}

static bool is_ident(const char *s, size_t n)
{
	if (n == 0 || is_digit(s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$'))
			return false;
	}
	return true;
}

static void scan_value(struct scan *sc, size_t key_off);

/* Scans an object; sc->i is at '{'. */
static void scan_object(struct scan *sc)
{
	char buf[48];
	sc->i++;
	skip_ws(sc);
	if (sc->i < sc->n && sc->s[sc->i] == '}') {
		sc->i++;
		return;
	}
	size_t base = sc->path.len;
	for (;;) {
		if (sc->failed)
			return;
		if (sc->i >= sc->n || sc->s[sc->i] != '"') {
			if (sc->i < sc->n && sc->s[sc->i] == '\'')
				scan_error(sc, sc->i, "keys and strings use double quotes, not '");
			else
				scan_error(sc, sc->i, "expected a key in double quotes, found %s",
				           found(sc, sc->i, buf, sizeof buf));
			return;
		}
		size_t key_off = sc->i;
		scan_string(sc);
		if (sc->failed)
			return;
		const char *k = sc->s + key_off + 1;
		size_t kn = sc->i - key_off - 2;
		if (base)
			sb_addc(&sc->path, is_ident(k, kn) ? '.' : '[');
		else if (!is_ident(k, kn))
			sb_addc(&sc->path, '[');
		if (is_ident(k, kn)) {
			sb_add(&sc->path, k, kn);
		} else {
			sb_addc(&sc->path, '"');
			sb_add(&sc->path, k, kn);
			sb_adds(&sc->path, "\"]");
		}
		skip_ws(sc);
		if (sc->i >= sc->n || sc->s[sc->i] != ':') {
			scan_error(sc, sc->i, "expected ':' after the key, found %s",
			           found(sc, sc->i, buf, sizeof buf));
			return;
		}
		sc->i++;
		skip_ws(sc);
		scan_value(sc, key_off);
		if (sc->failed)
			return;
		skip_ws(sc);
		if (sc->i < sc->n && sc->s[sc->i] == ',') {
			size_t comma = sc->i++;
			sc->path.len = base;
			sc->path.s[base] = '\0';
			skip_ws(sc);
			if (sc->i < sc->n && sc->s[sc->i] == '}') {
				scan_error(sc, comma, "trailing comma before '}'");
				return;
			}
			continue;
		}
		if (sc->i < sc->n && sc->s[sc->i] == '}') {
			sc->i++;
			sc->path.len = base;
			if (sc->path.s)
				sc->path.s[base] = '\0';
			return;
		}
		scan_error(sc, sc->i, "expected ',' or '}' after an object member, found %s",
		           found(sc, sc->i, buf, sizeof buf));
		return;
	}
}

/* Scans an array; sc->i is at '['. */
static void scan_array(struct scan *sc)
{
	char buf[48];
	sc->i++;
	skip_ws(sc);
	if (sc->i < sc->n && sc->s[sc->i] == ']') {
		sc->i++;
		return;
	}
	size_t base = sc->path.len;
	for (size_t idx = 0;; idx++) {
		sb_addf(&sc->path, "[%zu]", idx);
		scan_value(sc, NO_KEY);
		if (sc->failed)
			return;
		skip_ws(sc);
		sc->path.len = base;
		sc->path.s[base] = '\0';
		if (sc->i < sc->n && sc->s[sc->i] == ',') {
			size_t comma = sc->i++;
			skip_ws(sc);
			if (sc->i < sc->n && sc->s[sc->i] == ']') {
				scan_error(sc, comma, "trailing comma before ']'");
				return;
			}
			continue;
		}
		if (sc->i < sc->n && sc->s[sc->i] == ']') {
			sc->i++;
			return;
		}
		scan_error(sc, sc->i, "expected ',' or ']' after an array element, found %s",
		           found(sc, sc->i, buf, sizeof buf));
		return;
	}
}

static void scan_value(struct scan *sc, size_t key_off)
{
	char buf[48];
	if (sc->failed)
		return;
	if (sc->i >= sc->n) {
		scan_error(sc, sc->i, "expected a value, found end of file");
		return;
	}
	char c = sc->s[sc->i];
	static const char *const words[] = {"true", "false", "null"};
	if (c == '{' || c == '[') {
		if (++sc->depth > JSON_MAX_DEPTH) {
			scan_error(sc, sc->i, "nested deeper than %d levels", JSON_MAX_DEPTH);
			return;
		}
		push_pos(sc, key_off, sc->i);
		if (c == '{')
			scan_object(sc);
		else
			scan_array(sc);
		sc->depth--;
		return;
	}
	push_pos(sc, key_off, sc->i);
	if (c == '"') {
		scan_string(sc);
		return;
	}
	if (c == '-' || is_digit(c)) {
		scan_number(sc);
		return;
	}
	for (size_t w = 0; w < RBC_ARRAY_LEN(words); w++) {
		size_t l = strlen(words[w]);
		if (sc->n - sc->i >= l && memcmp(sc->s + sc->i, words[w], l) == 0 &&
		    !(sc->i + l < sc->n && is_ident(sc->s + sc->i + l, 1))) {
			sc->i += l;
			return;
		}
	}
	if (c == '\'')
		scan_error(sc, sc->i, "keys and strings use double quotes, not '");
	else if (c == '}' || c == ']' || c == ',')
		scan_error(sc, sc->i, "expected a value, found %s", found(sc, sc->i, buf, sizeof buf));
	else
		scan_error(sc, sc->i, "expected a value (string, number, object, array, true, false or null), found %s",
		           found(sc, sc->i, buf, sizeof buf));
}

/*
 * Each node's index into doc->pos is kept in its valueint. cJSON only mirrors
 * valuedouble into that field for numbers, and rbc reads numbers through
 * valuedouble alone, so the field is free; a side table keyed by node
 * address cost more time than parsing on large runbooks.
 */
static bool node_index(const struct json_doc *doc, const cJSON *node, uint32_t *idx)
{
	if (node->valueint < 0 || (size_t)node->valueint >= doc->npos)
		return false;
	*idx = (uint32_t)node->valueint;
	return true;
}

/* Pairs nodes with positions in document (pre-)order; false on a mismatch. */
static bool attach(struct json_doc *doc, cJSON *node, size_t *k)
{
	if (*k >= doc->npos || *k > INT_MAX)
		return false;
	node->valueint = (int)(*k)++;
	for (cJSON *c = node->child; c; c = c->next)
		if (!attach(doc, c, k))
			return false;
	return true;
}

/* A document of buf with its line table, no tree yet. */
static struct json_doc *doc_new(const char *file, const char *buf, size_t len)
{
	struct json_doc *doc = xcalloc(1, sizeof *doc);
	doc->file = xstrdup(file);
	doc->text = xstrndup(buf, len);
	doc->len = len;
	size_t cap = 0;
	xgrow(&doc->lines, &cap, 1, sizeof *doc->lines);
	doc->lines[doc->nlines++] = 0;
	for (size_t i = 0; i < len; i++) {
		/* \n, \r\n and a lone \r each end a line. */
		if (buf[i] == '\n' || (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
			xgrow(&doc->lines, &cap, doc->nlines + 1, sizeof *doc->lines);
			doc->lines[doc->nlines++] = i + 1;
		}
	}
	return doc;
}

/*
 * Scans doc->text[start..end) as one JSON value whose syntax errors are
 * reported at their place in the whole text, under path; builds its tree in
 * doc's arena and appends its positions to doc's. NULL on an error.
 */
static cJSON *parse_part(struct json_doc *doc, size_t start, size_t end, const char *path,
                         struct rbc_diags *d)
{
	struct scan sc = {.s = doc->text, .n = end, .i = start, .base = start, .doc = doc, .d = d};
	sc.out = xstrndup(doc->text + start, end - start);
	if (path && *path)
		sb_adds(&sc.path, path);
	if (start == 0 && end >= 3 && memcmp(doc->text, "\xEF\xBB\xBF", 3) == 0) {
		memset(sc.out, ' ', 3);
		sc.i = 3;
	}
	skip_ws(&sc);
	if (!sc.failed && sc.i >= end && start == 0 && end == doc->len)
		scan_error(&sc, sc.i, "empty file: expected a runbook object");
	scan_value(&sc, NO_KEY);
	skip_ws(&sc);
	if (!sc.failed && sc.i < end) {
		char fb[48];
		scan_error(&sc, sc.i, "unexpected %s after the end of the document",
		           found(&sc, sc.i, fb, sizeof fb));
	}
	sb_free(&sc.path);
	cJSON *root = NULL;
	if (!sc.failed)
		root = parse_in_arena(sc.out, end - start, &doc->arena);
	free(sc.out);
	if (sc.failed) {
		free(sc.pos);
		return NULL;
	}
	size_t k = doc->npos;
	for (size_t i = 0; i < sc.npos; i++)
		json_doc_place_at(doc, (uint32_t)sc.pos[i].key_off, sc.pos[i].val_off, JSON_SRC_JSON);
	free(sc.pos);
	if (!root || !attach(doc, root, &k) || k != doc->npos) {
		unsigned line, col;
		offset_pos(doc, start, &line, &col);
		diags_add(d, false, doc->file, line, col, path, "could not parse the JSON document");
		return NULL;
	}
	return root;
}

struct json_doc *json_doc_parse(const char *file, const char *buf, size_t len,
                                struct rbc_diags *d)
{
	if (len > JSON_MAX_BYTES) {
		diags_add(d, false, file, 0, 0, NULL, "file is larger than %u MiB",
		          JSON_MAX_BYTES / (1024 * 1024));
		return NULL;
	}
	struct json_doc *doc = doc_new(file, buf, len);
	doc->root = parse_part(doc, 0, len, NULL, d);
	if (!doc->root) {
		json_doc_free(doc);
		return NULL;
	}
	return doc;
}

struct json_doc *json_doc_new(const char *file, const char *buf, size_t len)
{
	return doc_new(file, buf, len > JSON_MAX_BYTES ? JSON_MAX_BYTES : len);
}

void json_doc_build(struct json_doc *doc, bool on)
{
	arena_hook();
	arena_active = on ? &doc->arena : NULL;
}

cJSON *json_doc_parse_part(struct json_doc *doc, size_t start, size_t end, const char *path,
                           struct rbc_diags *d)
{
	return parse_part(doc, start, end, path, d);
}

size_t json_doc_place_at(struct json_doc *doc, size_t key_off, size_t val_off, enum json_src src)
{
	if (doc->npos == doc->poscap)
		xgrow(&doc->pos, &doc->poscap, doc->npos + 1, sizeof *doc->pos);
	struct pos *p = &doc->pos[doc->npos];
	p->key_off = key_off == (size_t)-1 || key_off == NO_KEY ? NO_KEY : (uint32_t)POS_OFF(key_off);
	p->val_off = (uint32_t)POS_OFF(val_off) | (uint32_t)src << POS_SRC_SHIFT;
	return doc->npos++;
}

void json_doc_place(struct json_doc *doc, cJSON *node, size_t key_off, size_t val_off,
                    enum json_src src)
{
	size_t k = json_doc_place_at(doc, key_off, val_off, src);
	if (k <= INT_MAX)
		node->valueint = (int)k;
}

void json_doc_set_root(struct json_doc *doc, cJSON *root)
{
	doc->root = root;
}

void json_doc_free(struct json_doc *doc)
{
	if (!doc)
		return;
	arena_drop(doc->arena);
	free(doc->file);
	free(doc->text);
	free(doc->lines);
	free(doc->pos);
	free(doc);
}

void json_doc_offset_pos(struct json_doc *doc, size_t off, unsigned *line, unsigned *col)
{
	offset_pos(doc, off > doc->len ? doc->len : off, line, col);
}

cJSON *json_doc_root(const struct json_doc *doc)
{
	return doc->root;
}

const char *json_doc_file(const struct json_doc *doc)
{
	return doc->file;
}

bool json_doc_pos(struct json_doc *doc, const cJSON *node, bool key,
                  unsigned *line, unsigned *col)
{
	uint32_t idx;
	if (!node || !node_index(doc, node, &idx))
		return false;
	const struct pos *p = &doc->pos[idx];
	offset_pos(doc, key && p->key_off != NO_KEY ? p->key_off : POS_OFF(p->val_off), line, col);
	return true;
}

bool json_doc_string_pos(struct json_doc *doc, const cJSON *node,
                         size_t at, unsigned *line, unsigned *col)
{
	uint32_t idx;
	if (!node || !cJSON_IsString(node) || !node_index(doc, node, &idx))
		return false;
	uint32_t v = doc->pos[idx].val_off;
	size_t i = POS_OFF(v) + (POS_SRC(v) == JSON_SRC_RAW ? 0 : 1), dec = 0;
	if (POS_SRC(v) == JSON_SRC_RAW) {
		/* Text that stands verbatim in the file: bytes are bytes. */
		i += at;
		offset_pos(doc, i < doc->len ? i : doc->len, line, col);
		return true;
	}
	bool attr = POS_SRC(v) == JSON_SRC_ATTR;
	/* Several ${…} in one string are looked up in order: go on from the last. */
	if (doc->smemo_node == node && doc->smemo_at <= at) {
		i = doc->smemo_raw;
		dec = doc->smemo_at;
	}
	while (i < doc->len && doc->text[i] != '"' && dec < at) {
		if (doc->text[i] != '\\') {
			i++, dec++;
			continue;
		}
		char e = i + 1 < doc->len ? doc->text[i + 1] : '\0';
		if (attr && e != '"' && e != '\\') {
			/* An attribute keeps a backslash before anything else. */
			i++, dec++;
			continue;
		}
		if (e != 'u' || attr) {
			i += 2, dec++;
			continue;
		}
		long u = strtol((char[]){doc->text[i + 2], doc->text[i + 3], doc->text[i + 4], doc->text[i + 5], 0}, NULL, 16);
		if (u >= 0xD800 && u <= 0xDBFF)
			i += 12, dec += 4;
		else
			i += 6, dec += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
	}
	doc->smemo_node = node;
	doc->smemo_at = dec;
	doc->smemo_raw = i;
	offset_pos(doc, i, line, col);
	return true;
}

const char *json_type_name(const cJSON *node)
{
	if (!node)
		return "nothing";
	if (cJSON_IsString(node))
		return "a string";
	if (cJSON_IsNumber(node))
		return "a number";
	if (cJSON_IsBool(node))
		return "a boolean";
	if (cJSON_IsNull(node))
		return "null";
	if (cJSON_IsArray(node))
		return "an array";
	if (cJSON_IsObject(node))
		return "an object";
	return "an invalid value";
}
