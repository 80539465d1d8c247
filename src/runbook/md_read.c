/*
 * md_read.c — a Markdown runbook read into the JSON document the loader
 * validates (docs/markdown-runbooks.md has the mapping).
 *
 * cmark-gfm parses the text (task lists, tables, source positions); a walk
 * of its blocks in document order builds a cJSON runbook whose every node is
 * placed at its offset in the Markdown: headings are groups, task items
 * manual steps, shell/sql/http/promql blocks probe steps; {…} attributes and
 * <!-- rbc {json} --> comments give any step key, so every key the loader
 * knows works here without a line of this file knowing it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>

#include "rbc/markdown.h"
#include "rbc/runbook.h"
#include "rbc/util.h"

/* Containers nested deeper than this are refused (lists in lists …). */
#define MD_MAX_NEST 32

/* Where steps and prose go: a section (heading), the runbook, or an item. */
struct sink {
	cJSON *steps;          /* array */
	struct strbuf prose;   /* description or note */
	size_t prose_off;      /* where the prose starts */
	bool has_prose;
};

/* A heading whose section is open. */
struct section {
	int level;
	size_t off;            /* the heading's first byte */
	size_t text_off;       /* its title's first byte */
	char *title;
	char *line;            /* the heading as written, to fold it into prose */
	cJSON *keys;           /* from its rbc comment or attributes; may be NULL */
	struct sink sink;
};

struct md {
	struct json_doc *doc;
	const char *text;
	size_t len;
	const char *file;
	struct rbc_diags *d;
	size_t *lines;
	size_t nlines;
	size_t errors_before;
	struct section stack[8];
	int depth;             /* sections open; stack[0] is the runbook */
	cJSON *pending;        /* an rbc comment waiting for its block */
	size_t pending_off;
	cJSON *colon_title;    /* "Restart the service:" before a block */
	cmark_node *colon_para;
	int commands;
	int nest;
	cmark_node *title_heading;
};

static const char *const run_langs[] = {"sh", "bash", "shell", "console"};

/* ------------------------------------------------------ positions */

/* Byte offset of cmark's (line, column). */
static size_t md_off(const struct md *m, int line, int col)
{
	if (line < 1)
		line = 1;
	if ((size_t)line > m->nlines)
		return m->len;
	size_t off = m->lines[line - 1] + (size_t)(col > 0 ? col - 1 : 0);
	return off > m->len ? m->len : off;
}

/* End of the line holding off (before its \r\n). */
static size_t line_end(const struct md *m, size_t off)
{
	while (off < m->len && m->text[off] != '\n' && m->text[off] != '\r')
		off++;
	return off;
}

/* Byte offset where block n starts. */
static size_t node_off(const struct md *m, cmark_node *n)
{
	return md_off(m, cmark_node_get_start_line(n), cmark_node_get_start_column(n));
}

/* Reports a Markdown problem at byte offset off. */
static void md_err(struct md *m, size_t off, const char *fmt, ...) RBC_PRINTF(3, 4);
static void md_err(struct md *m, size_t off, const char *fmt, ...)
{
	unsigned line, col;
	json_doc_offset_pos(m->doc, off, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	diags_add(m->d, false, m->file, line, col, NULL, "%s", msg);
	free(msg);
}

/* ------------------------------------------------------ nodes */

/* A string node at val_off (its key, when a member, at key_off). */
static cJSON *str_at(struct md *m, const char *s, size_t key_off, size_t val_off, enum json_src src)
{
	cJSON *n = cJSON_CreateString(s);
	json_doc_place(m->doc, n, key_off, val_off, src);
	return n;
}

/* The same for the n bytes at s. */
static cJSON *strn_at(struct md *m, const char *s, size_t n, size_t key_off, size_t val_off,
                      enum json_src src)
{
	char *t = xstrndup(s, n);
	cJSON *r = str_at(m, t, key_off, val_off, src);
	free(t);
	return r;
}

/* A container node (object or array) placed at off. */
static cJSON *obj_at(struct md *m, bool array, size_t key_off, size_t off)
{
	cJSON *n = array ? cJSON_CreateArray() : cJSON_CreateObject();
	json_doc_place(m->doc, n, key_off, off, JSON_SRC_RAW);
	return n;
}

/* True when obj (may be NULL) has member key. */
static bool has_key(const cJSON *obj, const char *key)
{
	return obj && cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

/* True when obj gives an action (RB_ACTIONS) of its own. */
static bool has_action(const cJSON *obj)
{
	static const char *const keys[] = {
#define X(e, key, desc) key,
		RB_ACTIONS(X)
#undef X
	};
	for (size_t a = 0; a < RBC_ARRAY_LEN(keys); a++)
		if (has_key(obj, keys[a]))
			return true;
	return false;
}

/* Moves every member of from (may be NULL) to the end of to. */
static void merge_keys(cJSON *to, cJSON *from)
{
	while (from && from->child) {
		cJSON *c = cJSON_DetachItemViaPointer(from, from->child);
		cJSON_AddItemToArray(to, c); /* keeps c->string: appended as a member */
	}
}

/* ------------------------------------------------------ text */

/* The block's source lines, \r removed, each stripped of cut leading columns. */
static char *slice(const struct md *m, size_t from, size_t to)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	for (size_t i = from; i < to && i < m->len; i++)
		if (m->text[i] != '\r')
			sb_addc(&sb, m->text[i]);
	while (sb.len && (sb.s[sb.len - 1] == '\n' || sb.s[sb.len - 1] == ' '))
		sb.s[--sb.len] = '\0';
	return sb_take(&sb);
}

/* The text of a block as written (a table, a list, a paragraph …). */
static char *block_text(const struct md *m, cmark_node *n, size_t *off)
{
	*off = node_off(m, n);
	if (cmark_node_get_type(n) == CMARK_NODE_HTML_BLOCK) {
		const char *lit = cmark_node_get_literal(n);
		char *s = xstrdup(lit ? lit : "");
		size_t l = strlen(s);
		while (l && (s[l - 1] == '\n' || s[l - 1] == '\r'))
			s[--l] = '\0';
		return s;
	}
	int el = cmark_node_get_end_line(n);
	size_t end = el >= cmark_node_get_start_line(n) ? line_end(m, md_off(m, el, 1)) : line_end(m, *off);
	return slice(m, *off, end);
}

/* Appends a block of prose (a blank line apart from the last). */
static void sink_prose(struct sink *s, const char *text, size_t off)
{
	if (!*text)
		return;
	if (!s->has_prose) {
		s->prose_off = off;
		s->has_prose = true;
	} else {
		sb_adds(&s->prose, "\n\n");
	}
	sb_adds(&s->prose, text);
}

/* Block n, as written, is prose of s. */
static void prose_block(struct md *m, struct sink *s, cmark_node *n)
{
	size_t off;
	char *t = block_text(m, n, &off);
	sink_prose(s, t, off);
	free(t);
}

/* A paragraph's text as written, lines joined by a space. */
static char *para_text(const struct md *m, cmark_node *p, size_t *off)
{
	char *t = block_text(m, p, off);
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	for (const char *c = t; *c; c++) {
		if (*c == '\n') {
			while (sb.len && sb.s[sb.len - 1] == ' ')
				sb.s[--sb.len] = '\0';
			sb_addc(&sb, ' ');
			while (c[1] == ' ' || c[1] == '\t')
				c++;
		} else {
			sb_addc(&sb, *c);
		}
	}
	free(t);
	return sb_take(&sb);
}

/* ------------------------------------------------------ rbc comments */

/*
 * An rbc comment: "<!-- rbc {json} -->". Returns true when n is one (then
 * *obj is its parsed object, NULL after an error was reported).
 */
static bool rbc_comment(struct md *m, cmark_node *n, cJSON **obj)
{
	*obj = NULL;
	if (cmark_node_get_type(n) != CMARK_NODE_HTML_BLOCK)
		return false;
	size_t at = node_off(m, n), i = at;
	if (m->len - i < 4 || memcmp(m->text + i, "<!--", 4) != 0)
		return false;
	i += 4;
	while (i < m->len && (m->text[i] == ' ' || m->text[i] == '\t' || m->text[i] == '\n' || m->text[i] == '\r'))
		i++;
	if (m->len - i < 3 || memcmp(m->text + i, "rbc", 3) != 0 ||
	    (i + 3 < m->len && !strchr(" \t\r\n{", m->text[i + 3])))
		return false;
	i += 3;
	const char *close = memmem(m->text + i, m->len - i, "-->", 3);
	if (!close) {
		md_err(m, at, "this rbc comment is never closed: end it with -->");
		return true;
	}
	size_t end = (size_t)(close - m->text), after = end + 3;
	size_t le = line_end(m, after);
	for (size_t k = after; k < le; k++) {
		if (m->text[k] != ' ' && m->text[k] != '\t') {
			md_err(m, k, "text after an rbc comment's -->: give it a line of its own");
			return true;
		}
	}
	size_t j = i;
	while (j < end && strchr(" \t\r\n", m->text[j]))
		j++;
	if (j >= end) {
		md_err(m, at, "empty rbc comment: write the keys as a JSON object, <!-- rbc {\"id\": \"…\"} -->");
		return true;
	}
	cJSON *v = json_doc_parse_part(m->doc, i, end, "rbc", m->d);
	if (!v)
		return true;
	if (!cJSON_IsObject(v)) {
		md_err(m, j, "an rbc comment holds a JSON object of keys, got %s", json_type_name(v));
		return true;
	}
	*obj = v;
	return true;
}

/* Takes the pending comment's keys (NULL when none). */
static cJSON *take_pending(struct md *m)
{
	cJSON *p = m->pending;
	m->pending = NULL;
	return p;
}

/* A block that is not a step stands after an rbc comment. */
static void orphan_pending(struct md *m, const char *what)
{
	if (!m->pending)
		return;
	md_err(m, m->pending_off, "this rbc comment stands before %s: put it just before a code block, a task item or a heading",
	       what);
	m->pending = NULL;
}

/* ------------------------------------------------------ attributes */

/* An attribute's value as JSON: bare true/false and numbers are typed. */
static cJSON *attr_value(struct md *m, const struct md_attr *a)
{
	cJSON *v = NULL;
	if (!a->value) {
		v = cJSON_CreateTrue();
		json_doc_place(m->doc, v, a->key_off, a->key_off, JSON_SRC_RAW);
		return v;
	}
	if (!a->quoted && !a->text) {
		char *endp = NULL;
		if (strcmp(a->value, "true") == 0)
			v = cJSON_CreateTrue();
		else if (strcmp(a->value, "false") == 0)
			v = cJSON_CreateFalse();
		else if (a->value[0] == '-' || (a->value[0] >= '0' && a->value[0] <= '9')) {
			double d = strtod(a->value, &endp);
			if (endp && !*endp)
				v = cJSON_CreateNumber(d);
		}
		if (v) {
			json_doc_place(m->doc, v, a->key_off, a->val_off, JSON_SRC_RAW);
			return v;
		}
	}
	return str_at(m, a->value, a->key_off, a->val_off, a->quoted ? JSON_SRC_ATTR : JSON_SRC_RAW);
}

/*
 * Parses the attributes at text[start..end) into a keys object (NULL and
 * reported on a syntax error). consume names keys the block itself takes
 * (conn, url): they are returned through *taken instead.
 */
static cJSON *attrs_object(struct md *m, size_t start, size_t end, const char *const *consume,
                           size_t nconsume, cJSON *taken)
{
	struct md_attr *v;
	size_t n;
	char *err = NULL;
	size_t err_off = 0;
	if (!md_attrs_parse(m->text, start, end, &v, &n, &err, &err_off)) {
		md_err(m, err_off, "%s", err);
		free(err);
		md_attrs_free(v, n);
		return NULL;
	}
	cJSON *obj = obj_at(m, false, (size_t)-1, start);
	for (size_t i = 0; i < n; i++) {
		bool take = false;
		for (size_t k = 0; k < nconsume && !take; k++)
			take = strcmp(consume[k], v[i].key) == 0;
		cJSON_AddItemToObject(take ? taken : obj, v[i].key, attr_value(m, &v[i]));
	}
	md_attrs_free(v, n);
	return obj;
}

/* ------------------------------------------------------ code blocks */

enum md_lang { MD_LANG_NONE, MD_LANG_RUN, MD_LANG_CONSOLE, MD_LANG_SQL, MD_LANG_HTTP, MD_LANG_PROMQL };

/* The language word of a fence's info string, as an action. */
static enum md_lang lang_of(const char *s, size_t n)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(run_langs); i++)
		if (strlen(run_langs[i]) == n && strncmp(run_langs[i], s, n) == 0)
			return i == 3 ? MD_LANG_CONSOLE : MD_LANG_RUN;
	if (n == 3 && strncmp(s, "sql", 3) == 0)
		return MD_LANG_SQL;
	if (n == 4 && strncmp(s, "http", 4) == 0)
		return MD_LANG_HTTP;
	if (n == 6 && strncmp(s, "promql", 6) == 0)
		return MD_LANG_PROMQL;
	return MD_LANG_NONE;
}

/* Where a fenced block's info string is, as written (not unescaped). */
struct fence {
	enum md_lang lang;
	size_t off;                  /* the fence's first byte */
	size_t attr_start, attr_end; /* "{…}", or equal when none */
	size_t body_off;             /* first byte of its first content line */
	bool closed;
};

/* Reads a fenced block's fence line; false for an indented block. */
static bool fence_of(const struct md *m, cmark_node *n, struct fence *f)
{
	int flen = 0, foff = 0;
	char fch = 0;
	if (!cmark_node_get_fenced(n, &flen, &foff, &fch))
		return false;
	memset(f, 0, sizeof *f);
	f->off = node_off(m, n);
	size_t i = f->off, le = line_end(m, f->off);
	while (i < le && m->text[i] == fch)
		i++;
	while (i < le && (m->text[i] == ' ' || m->text[i] == '\t'))
		i++;
	size_t w = i;
	while (w < le && m->text[w] != ' ' && m->text[w] != '\t' && m->text[w] != '{')
		w++;
	f->lang = lang_of(m->text + i, w - i);
	const char *brace = memchr(m->text + w, '{', le - w);
	if (brace) {
		size_t e = le;
		while (e > w && (m->text[e - 1] == ' ' || m->text[e - 1] == '\t'))
			e--;
		f->attr_start = (size_t)(brace - m->text);
		f->attr_end = e;
	}
	int sl = cmark_node_get_start_line(n), el = cmark_node_get_end_line(n);
	f->body_off = md_off(m, sl + 1, cmark_node_get_start_column(n));
	if (el > sl) {
		size_t k = md_off(m, el, 1), ke = line_end(m, k);
		while (k < ke && (m->text[k] == ' ' || m->text[k] == '\t' || m->text[k] == '>'))
			k++;
		int run = 0;
		while (k < ke && m->text[k] == fch)
			k++, run++;
		while (k < ke && (m->text[k] == ' ' || m->text[k] == '\t'))
			k++;
		f->closed = run >= flen && k == ke;
	}
	return true;
}

/* The first "# comment" line of a block ("-- " in SQL), not a #! line. */
static char *comment_title(const char *body, enum md_lang lang, size_t *at)
{
	const char *p = body;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *q = p;
		while (q < p + n && (*q == ' ' || *q == '\t'))
			q++;
		const char *t = NULL;
		if (lang == MD_LANG_SQL && p + n - q >= 2 && q[0] == '-' && q[1] == '-')
			t = q + 2;
		else if (lang != MD_LANG_SQL && q < p + n && q[0] == '#' && (q + 1 >= p + n || q[1] != '!'))
			t = q + 1;
		if (t) {
			while (t < p + n && (*t == ' ' || *t == '#' || *t == '\t'))
				t++;
			const char *te = p + n;
			while (te > t && (te[-1] == ' ' || te[-1] == '\r'))
				te--;
			if (te > t) {
				*at = (size_t)(t - body);
				return xstrndup(t, (size_t)(te - t));
			}
		}
		p = e ? e + 1 : p + n;
	}
	return NULL;
}

/* A console block's commands: the lines after a "$ " prompt (all lines when none has one). */
static char *console_commands(const char *body)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	bool any = false;
	for (const char *p = body; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n >= 2 && p[0] == '$' && p[1] == ' ') {
			if (any)
				sb_addc(&sb, '\n');
			sb_add(&sb, p + 2, n - 2);
			any = true;
		}
		p = e ? e + 1 : p + n;
	}
	if (!any) {
		sb_free(&sb);
		return xstrdup(body);
	}
	return sb_take(&sb);
}

/* An http block: "METHOD URL", header lines, a blank line, the body. */
static cJSON *http_action(struct md *m, const char *body, size_t off, size_t at)
{
	cJSON *h = obj_at(m, false, at, at);
	const char *p = body;
	while (*p == '\n')
		p++;
	const char *e = strchr(p, '\n');
	size_t n = e ? (size_t)(e - p) : strlen(p);
	const char *sp = memchr(p, ' ', n);
	if (sp) {
		cJSON_AddItemToObject(h, "method", strn_at(m, p, (size_t)(sp - p), off, off, JSON_SRC_RAW));
		while (sp < p + n && *sp == ' ')
			sp++;
		cJSON_AddItemToObject(h, "url", strn_at(m, sp, (size_t)(p + n - sp), off + (size_t)(sp - body),
		                                       off + (size_t)(sp - body), JSON_SRC_RAW));
	} else {
		cJSON_AddItemToObject(h, "url", strn_at(m, p, n, off, off, JSON_SRC_RAW));
	}
	p = e ? e + 1 : p + n;
	cJSON *headers = NULL;
	while (*p && *p != '\n') {
		e = strchr(p, '\n');
		n = e ? (size_t)(e - p) : strlen(p);
		const char *colon = memchr(p, ':', n);
		size_t lo = off + (size_t)(p - body);
		if (!colon || colon == p) {
			md_err(m, lo, "expected a header line \"Name: value\" or a blank line before the body");
			return h;
		}
		if (!headers) {
			headers = obj_at(m, false, lo, lo);
			cJSON_AddItemToObject(h, "headers", headers);
		}
		const char *v = colon + 1;
		while (v < p + n && *v == ' ')
			v++;
		char *name = xstrndup(p, (size_t)(colon - p));
		cJSON_AddItemToObject(headers, name, strn_at(m, v, (size_t)(p + n - v), lo,
		                                            off + (size_t)(v - body), JSON_SRC_RAW));
		free(name);
		p = e ? e + 1 : p + n;
	}
	if (*p == '\n')
		p++;
	if (*p)
		cJSON_AddItemToObject(h, "body", str_at(m, p, off + (size_t)(p - body), off + (size_t)(p - body), JSON_SRC_RAW));
	return h;
}

static void walk(struct md *m, struct sink *s, cmark_node *first, bool top);

/* Adds title unless keys give one. */
static void add_title(struct md *m, cJSON *step, const char *title, size_t key_off, size_t off,
                      const cJSON *keys)
{
	if (!has_key(keys, "title"))
		cJSON_AddItemToObject(step, "title", str_at(m, title, key_off, off, JSON_SRC_RAW));
}

/* A fenced block in a language that runs: a step (docs/markdown-runbooks.md, "Code blocks"). */
static void code_step(struct md *m, struct sink *s, cmark_node *n, const struct fence *f)
{
	cJSON *keys = take_pending(m);
	cJSON *taken = cJSON_CreateObject();
	bool annotated = keys != NULL || f->attr_end > f->attr_start;
	if (f->attr_end > f->attr_start) {
		static const char *const sql_own[] = {"conn"}, *const prom_own[] = {"url"};
		const char *const *own = f->lang == MD_LANG_SQL ? sql_own : f->lang == MD_LANG_PROMQL ? prom_own : NULL;
		cJSON *attrs = attrs_object(m, f->attr_start, f->attr_end, own, own ? 1 : 0, taken);
		if (!keys)
			keys = attrs;
		else
			merge_keys(keys, attrs);
	}
	if (!f->closed)
		md_err(m, f->off, "this code block is never closed: it runs to the end of the %s (close it with a line of the same fence)",
		       cmark_node_get_type(cmark_node_parent(n)) == CMARK_NODE_DOCUMENT ? "file" : "list item or quote");
	const char *lit = cmark_node_get_literal(n);
	char *body = xstrdup(lit ? lit : "");
	size_t bl = strlen(body);
	if (bl && body[bl - 1] == '\n')
		body[--bl] = '\0';
	m->commands++;

	cJSON *step = obj_at(m, false, (size_t)-1, f->off);
	if (m->colon_title && !has_key(keys, "title")) {
		cJSON_AddItemToObject(step, "title", m->colon_title);
	} else {
		if (m->colon_para)
			prose_block(m, s, m->colon_para);
		size_t at = 0;
		char *t = comment_title(body, f->lang, &at);
		if (t) {
			add_title(m, step, t, f->off, f->body_off + at, keys);
			free(t);
		} else {
			char *cmd = xasprintf("Command %d", m->commands);
			add_title(m, step, cmd, f->off, f->off, keys);
			free(cmd);
		}
	}
	m->colon_title = NULL;
	m->colon_para = NULL;
	merge_keys(step, keys);
	cJSON *action = NULL;
	const char *akey = "run";
	switch (f->lang) {
	case MD_LANG_CONSOLE: {
		char *cmds = console_commands(body);
		action = str_at(m, cmds, f->off, f->body_off, JSON_SRC_RAW);
		free(cmds);
		break;
	}
	case MD_LANG_SQL:
		akey = "sql";
		action = obj_at(m, false, f->off, f->off);
		if (has_key(taken, "conn"))
			cJSON_AddItemToObject(action, "conn", cJSON_DetachItemFromObjectCaseSensitive(taken, "conn"));
		else
			cJSON_AddItemToObject(action, "conn", str_at(m, "${DATABASE_URL}", f->off, f->off, JSON_SRC_RAW));
		cJSON_AddItemToObject(action, "query", str_at(m, body, f->off, f->body_off, JSON_SRC_RAW));
		break;
	case MD_LANG_PROMQL:
		akey = "prometheus";
		action = obj_at(m, false, f->off, f->off);
		if (has_key(taken, "url"))
			cJSON_AddItemToObject(action, "url", cJSON_DetachItemFromObjectCaseSensitive(taken, "url"));
		else
			cJSON_AddItemToObject(action, "url", str_at(m, "${PROMETHEUS_URL}", f->off, f->off, JSON_SRC_RAW));
		cJSON_AddItemToObject(action, "query", str_at(m, body, f->off, f->body_off, JSON_SRC_RAW));
		break;
	case MD_LANG_HTTP:
		akey = "http";
		action = http_action(m, body, f->body_off, f->off);
		break;
	default:
		action = str_at(m, body, f->off, f->body_off, JSON_SRC_RAW);
		break;
	}
	cJSON_AddItemToObject(step, akey, action);
	if (!annotated)
		cJSON_AddItemToObject(step, "confirm", str_at(m, MD_IMPLICIT_CONFIRM, f->off, f->off, JSON_SRC_RAW));
	cJSON_AddItemToArray(s->steps, step);
	free(body);
}

/* True when n holds something that becomes a step (or an rbc comment). */
static bool has_anchor(const struct md *m, cmark_node *n, int depth)
{
	if (depth > MD_MAX_NEST)
		return false;
	const char *t = cmark_node_get_type_string(n);
	if (strcmp(t, "tasklist") == 0)
		return true;
	if (cmark_node_get_type(n) == CMARK_NODE_CODE_BLOCK) {
		struct fence f;
		return fence_of(m, n, &f) && f.lang != MD_LANG_NONE;
	}
	if (cmark_node_get_type(n) == CMARK_NODE_HTML_BLOCK) {
		const char *lit = cmark_node_get_literal(n);
		return lit && strstr(lit, "rbc") && strncmp(lit, "<!--", 4) == 0;
	}
	for (cmark_node *c = cmark_node_first_child(n); c; c = cmark_node_next(c))
		if (has_anchor(m, c, depth + 1))
			return true;
	return false;
}

/* A task item: a manual step, or a group when steps are nested in it. */
static void item_step(struct md *m, struct sink *s, cmark_node *item)
{
	cJSON *keys = take_pending(m);
	size_t off = node_off(m, item), toff = off;
	cJSON *step = obj_at(m, false, (size_t)-1, off);
	cmark_node *first = cmark_node_first_child(item);
	char *title = NULL;
	if (first && cmark_node_get_type(first) == CMARK_NODE_PARAGRAPH) {
		title = para_text(m, first, &toff);
		first = cmark_node_next(first);
	}
	add_title(m, step, title ? title : "", off, toff, keys);
	merge_keys(step, keys);
	struct sink sub = {.steps = obj_at(m, true, off, off)};
	if (++m->nest > MD_MAX_NEST)
		md_err(m, off, "lists nested deeper than %d levels", MD_MAX_NEST);
	else
		walk(m, &sub, first, false);
	m->nest--;
	orphan_pending(m, "the end of its list item");
	if (sub.steps->child)
		cJSON_AddItemToObject(step, "steps", sub.steps);
	else if (!has_action(step))
		cJSON_AddItemToObject(step, "manual", str_at(m, title ? title : "", off, toff, JSON_SRC_RAW));
	if (sub.has_prose && !has_key(step, MD_PROSE_KEY))
		cJSON_AddItemToObject(step, MD_PROSE_KEY, str_at(m, sub.prose.s, off, sub.prose_off, JSON_SRC_RAW));
	sb_free(&sub.prose);
	free(title);
	cJSON_AddItemToArray(s->steps, step);
}

/* A checklist written in a table cell cannot be walked: refused, not dropped. */
static void check_table(struct md *m, cmark_node *table)
{
	cmark_iter *it = cmark_iter_new(table);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *c = cmark_iter_get_node(it);
		if (ev != CMARK_EVENT_ENTER || strcmp(cmark_node_get_type_string(c), "table_cell") != 0)
			continue;
		size_t off = node_off(m, c), le = line_end(m, off);
		while (off < le && (m->text[off] == ' ' || m->text[off] == '|'))
			off++;
		const char *p = m->text + off;
		size_t n = le - off;
		if (n >= 2 && (p[0] == '-' || p[0] == '*' || p[0] == '+') && p[1] == ' ')
			p += 2, n -= 2;
		if (n >= 3 && p[0] == '[' && (p[1] == ' ' || p[1] == 'x' || p[1] == 'X') && p[2] == ']')
			md_err(m, off, "a task item inside a table cell is not a step: write the checklist as a list of its own, outside the table");
	}
	cmark_iter_free(it);
}

/* True when a paragraph ending in ':' stands just before a block that runs. */
static bool is_colon_title(const struct md *m, cmark_node *p)
{
	size_t off;
	char *t = para_text(m, p, &off);
	size_t n = strlen(t);
	bool colon = (n >= 1 && t[n - 1] == ':') || (n >= 3 && strcmp(t + n - 3, "\xEF\xBC\x9A") == 0);
	free(t);
	if (!colon)
		return false;
	cmark_node *next = cmark_node_next(p);
	if (next && cmark_node_get_type(next) == CMARK_NODE_HTML_BLOCK && has_anchor(m, next, 0))
		next = cmark_node_next(next);
	struct fence f;
	return next && cmark_node_get_type(next) == CMARK_NODE_CODE_BLOCK && fence_of(m, next, &f) &&
	       f.lang != MD_LANG_NONE;
}

/* ------------------------------------------------------ headings */

/* Closes the innermost section: a group, or prose of its parent when it holds no step. */
static void close_section(struct md *m)
{
	struct section *sec = &m->stack[--m->depth];
	struct sink *parent = &m->stack[m->depth - 1].sink;
	if (!sec->sink.steps->child && !sec->keys) {
		struct strbuf sb = {0};
		sb_adds(&sb, sec->line);
		if (sec->sink.has_prose) {
			sb_adds(&sb, "\n\n");
			sb_adds(&sb, sec->sink.prose.s);
		}
		sink_prose(parent, sb.s, sec->off);
		sb_free(&sb);
	} else {
		cJSON *g = obj_at(m, false, (size_t)-1, sec->off);
		add_title(m, g, sec->title, sec->off, sec->text_off, sec->keys);
		if (sec->sink.has_prose && !has_key(sec->keys, MD_PROSE_KEY))
			cJSON_AddItemToObject(g, MD_PROSE_KEY,
			                      str_at(m, sec->sink.prose.s, sec->off, sec->sink.prose_off, JSON_SRC_RAW));
		merge_keys(g, sec->keys);
		cJSON_AddItemToObject(g, "steps", sec->sink.steps);
		cJSON_AddItemToArray(parent->steps, g);
	}
	sb_free(&sec->sink.prose);
	free(sec->title);
	free(sec->line);
	memset(sec, 0, sizeof *sec);
}

/*
 * A heading's text as written, without its #s, closing #s and {…}
 * attributes (whose keys go to *keys).
 */
static char *heading_text(struct md *m, cmark_node *h, size_t *text_off, cJSON **keys, char **line)
{
	size_t off = node_off(m, h), le = line_end(m, off), i = off;
	bool atx = m->text[i] == '#';
	while (i < le && m->text[i] == '#')
		i++;
	while (i < le && (m->text[i] == ' ' || m->text[i] == '\t'))
		i++;
	size_t e = le;
	while (e > i && (m->text[e - 1] == ' ' || m->text[e - 1] == '\t'))
		e--;
	if (atx) {
		size_t k = e;
		while (k > i && m->text[k - 1] == '#')
			k--;
		if (k < e && (k == i || m->text[k - 1] == ' ' || m->text[k - 1] == '\t')) {
			e = k;
			while (e > i && (m->text[e - 1] == ' ' || m->text[e - 1] == '\t'))
				e--;
		}
	}
	*line = slice(m, off, atx ? le : line_end(m, md_off(m, cmark_node_get_end_line(h), 1)));
	if (e > i && m->text[e - 1] == '}') {
		const char *b = NULL;
		for (size_t k = e - 1; k > i; k--) {
			if (m->text[k] == '{' && (m->text[k - 1] == ' ' || m->text[k - 1] == '\t')) {
				b = m->text + k;
				break;
			}
		}
		if (b) {
			cJSON *dummy = cJSON_CreateObject();
			cJSON *attrs = attrs_object(m, (size_t)(b - m->text), e, NULL, 0, dummy);
			if (*keys)
				merge_keys(*keys, attrs);
			else
				*keys = attrs;
			e = (size_t)(b - m->text);
			while (e > i && (m->text[e - 1] == ' ' || m->text[e - 1] == '\t'))
				e--;
		}
	}
	*text_off = i;
	return slice(m, i, e);
}

/* A heading: the runbook's title, or a group section opened (closing deeper ones). */
static void heading(struct md *m, cmark_node *h)
{
	int level = cmark_node_get_heading_level(h);
	cJSON *keys = take_pending(m);
	size_t text_off;
	char *line = NULL;
	char *title = heading_text(m, h, &text_off, &keys, &line);
	if (h == m->title_heading) {
		struct section *root = &m->stack[0];
		root->title = title;
		root->text_off = text_off;
		root->off = node_off(m, h);
		if (keys) {
			if (!root->keys)
				root->keys = keys;
			else
				merge_keys(root->keys, keys);
		}
		free(line);
		return;
	}
	while (m->depth > 1 && m->stack[m->depth - 1].level >= level)
		close_section(m);
	struct section *top = &m->stack[m->depth - 1];
	if ((m->depth > 1 || m->title_heading) && level > top->level + 1)
		md_err(m, node_off(m, h), "a level-%d heading under a level-%d one: heading levels may not skip (write %.*s)",
		       level, top->level, top->level + 1, "######");
	if (m->depth == (int)RBC_ARRAY_LEN(m->stack))
		close_section(m);
	struct section *sec = &m->stack[m->depth++];
	sec->level = level;
	sec->off = node_off(m, h);
	sec->text_off = text_off;
	sec->title = title;
	sec->line = line;
	sec->keys = keys;
	sec->sink.steps = obj_at(m, true, sec->off, sec->off);
}

/* ------------------------------------------------------ the walk */

/* Walks sibling blocks from first, in document order, into s. */
static void walk(struct md *m, struct sink *s, cmark_node *first, bool top)
{
	for (cmark_node *n = first; n; n = cmark_node_next(n)) {
		if (top)
			s = &m->stack[m->depth - 1].sink;
		cmark_node_type t = cmark_node_get_type(n);
		const char *ts = cmark_node_get_type_string(n);
		struct fence f;
		cJSON *obj;
		if (t == CMARK_NODE_HEADING && top) {
			heading(m, n);
		} else if (rbc_comment(m, n, &obj)) {
			if (m->pending && obj) {
				md_err(m, node_off(m, n), "two rbc comments in a row: put all the step's keys in one comment");
			} else if (obj) {
				m->pending = obj;
				m->pending_off = node_off(m, n);
			}
		} else if (t == CMARK_NODE_CODE_BLOCK && fence_of(m, n, &f) && f.lang != MD_LANG_NONE) {
			code_step(m, s, n, &f);
		} else if (strcmp(ts, "tasklist") == 0) {
			item_step(m, s, n);
		} else if ((t == CMARK_NODE_LIST || t == CMARK_NODE_ITEM || t == CMARK_NODE_BLOCK_QUOTE) &&
		           has_anchor(m, n, 0)) {
			if (++m->nest > MD_MAX_NEST)
				md_err(m, node_off(m, n), "lists nested deeper than %d levels", MD_MAX_NEST);
			else
				walk(m, s, cmark_node_first_child(n), false);
			m->nest--;
		} else if (t == CMARK_NODE_PARAGRAPH && is_colon_title(m, n)) {
			size_t off;
			char *text = para_text(m, n, &off);
			size_t l = strlen(text);
			l -= text[l - 1] == ':' ? 1 : 3;
			while (l && text[l - 1] == ' ')
				l--;
			text[l] = '\0';
			m->colon_title = str_at(m, text, off, off, JSON_SRC_RAW);
			m->colon_para = n;
			free(text);
		} else {
			orphan_pending(m, t == CMARK_NODE_CODE_BLOCK ? "a code block that does not run"
			                  : t == CMARK_NODE_PARAGRAPH ? "a paragraph"
			                  : t == CMARK_NODE_HEADING ? "a heading inside a list"
			                                            : "prose");
			if (strcmp(ts, "table") == 0)
				check_table(m, n);
			prose_block(m, s, n);
		}
	}
}

/* The runbook's id when the document gives none: its file name, made an id. */
static char *id_of_file(const char *file)
{
	const char *b = strrchr(file, '/');
	b = b ? b + 1 : file;
	const char *dot = strrchr(b, '.');
	size_t n = dot && dot > b ? (size_t)(dot - b) : strlen(b);
	struct strbuf sb = {0};
	for (size_t i = 0; i < n && sb.len < 64; i++) {
		char c = b[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          (sb.len && (c == '-' || c == '_' || c == '.'));
		if (ok)
			sb_addc(&sb, c);
		else if (sb.len && sb.s[sb.len - 1] != '-')
			sb_addc(&sb, '-');
	}
	while (sb.len && sb.s[sb.len - 1] == '-')
		sb.s[--sb.len] = '\0';
	if (!sb.len) {
		sb_free(&sb);
		return xstrdup("runbook");
	}
	return sb_take(&sb);
}

/*
 * An rbc comment written inside a paragraph or an item's text is inline
 * HTML to CommonMark, never read as keys: refused rather than ignored.
 */
static void check_inline_comments(struct md *m, cmark_node *doc)
{
	cmark_iter *it = cmark_iter_new(doc);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);
		const char *lit = ev == CMARK_EVENT_ENTER && cmark_node_get_type(n) == CMARK_NODE_HTML_INLINE
		                      ? cmark_node_get_literal(n) : NULL;
		if (!lit || strncmp(lit, "<!--", 4) != 0)
			continue;
		const char *r = lit + 4;
		while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
			r++;
		if (strncmp(r, "rbc", 3) != 0 || (r[3] && !strchr(" \t\r\n{", r[3])))
			continue;
		cmark_node *b = n;
		while (cmark_node_parent(b) && (cmark_node_get_type(b) & CMARK_NODE_TYPE_MASK) == CMARK_NODE_TYPE_INLINE)
			b = cmark_node_parent(b);
		size_t from = node_off(m, b);
		const char *at = memmem(m->text + from, m->len - from, lit, strlen(lit));
		if (!at)
			at = memmem(m->text + from, m->len - from, "<!--", 4);
		md_err(m, at ? (size_t)(at - m->text) : from,
		       "an rbc comment inside a paragraph or an item's text is not read: give it a line of its own, just before the item or block");
	}
	cmark_iter_free(it);
}

/* The title heading: the first heading, when no other is at its level or above. */
static cmark_node *find_title(cmark_node *doc)
{
	cmark_node *first = NULL;
	for (cmark_node *n = cmark_node_first_child(doc); n; n = cmark_node_next(n)) {
		if (cmark_node_get_type(n) != CMARK_NODE_HEADING)
			continue;
		if (!first)
			first = n;
		else if (cmark_node_get_heading_level(n) <= cmark_node_get_heading_level(first))
			return NULL;
	}
	return first;
}

bool md_is_markdown(const char *file)
{
	size_t n = strlen(file);
	return (n > 3 && strcasecmp(file + n - 3, ".md") == 0) ||
	       (n > 9 && strcasecmp(file + n - 9, ".markdown") == 0);
}

/* Builds the runbook from the parsed blocks (the arena is on). */
static cJSON *build(struct md *m, cmark_node *doc)
{
	cJSON *root = obj_at(m, false, (size_t)-1, 0);
	struct section *rs = &m->stack[0];
	m->depth = 1;
	rs->sink.steps = obj_at(m, true, 0, 0);
	m->title_heading = find_title(doc);
	rs->level = m->title_heading ? cmark_node_get_heading_level(m->title_heading) : 0;
	cmark_node *first = cmark_node_first_child(doc);
	cJSON *top = NULL;
	if (first && rbc_comment(m, first, &top)) {
		rs->keys = top;
		first = cmark_node_next(first);
	}
	walk(m, &rs->sink, first, true);
	orphan_pending(m, "the end of the document");
	while (m->depth > 1)
		close_section(m);
	cJSON *keys = rs->keys;
	if (!has_key(keys, "runbook")) {
		char *id = id_of_file(m->file);
		cJSON_AddItemToObject(root, "runbook", str_at(m, id, 0, 0, JSON_SRC_RAW));
		free(id);
	}
	if (!has_key(keys, "title")) {
		if (rs->title) {
			cJSON_AddItemToObject(root, "title", str_at(m, rs->title, rs->off, rs->text_off, JSON_SRC_RAW));
		} else {
			char *id = id_of_file(m->file);
			cJSON_AddItemToObject(root, "title", str_at(m, id, 0, 0, JSON_SRC_RAW));
			free(id);
		}
	}
	if (rs->sink.has_prose && !has_key(keys, "description"))
		cJSON_AddItemToObject(root, "description",
		                      str_at(m, rs->sink.prose.s, rs->sink.prose_off, rs->sink.prose_off, JSON_SRC_RAW));
	merge_keys(root, keys);
	/* The id and title first, as a JSON runbook is written. */
	static const char *const front[] = {"title", "runbook"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(front); i++) {
		cJSON *k = cJSON_GetObjectItemCaseSensitive(root, front[i]);
		if (k && k != root->child)
			cJSON_InsertItemInArray(root, 0, cJSON_DetachItemViaPointer(root, k));
	}
	if (!rs->sink.steps->child && m->d->nerrors == m->errors_before) {
		/* Prose alone is still a document to walk: one step, read it. */
		size_t at = rs->title ? rs->text_off : 0;
		unsigned line, col;
		json_doc_offset_pos(m->doc, at, &line, &col);
		diags_add(m->d, true, m->file, line, col, NULL,
		          "no steps: no task item (- [ ] …) and no code block that runs (```sh); the document is one manual step, read it");
		cJSON *step = obj_at(m, false, (size_t)-1, at);
		const char *t = rs->title ? rs->title : "Read the document";
		cJSON_AddItemToObject(step, "title", str_at(m, t, at, at, JSON_SRC_RAW));
		cJSON_AddItemToObject(step, "manual", str_at(m, "Read the document through.", at, at, JSON_SRC_RAW));
		cJSON_AddItemToArray(rs->sink.steps, step);
	}
	cJSON_AddItemToObject(root, "steps", rs->sink.steps);
	sb_free(&rs->sink.prose);
	free(rs->title);
	return root;
}

struct json_doc *md_doc_parse(const char *file, const char *buf, size_t len,
                              struct rbc_diags *d)
{
	if (len > JSON_MAX_BYTES) {
		diags_add(d, false, file, 0, 0, NULL, "file is larger than %u MiB", JSON_MAX_BYTES / (1024 * 1024));
		return NULL;
	}
	struct md m = {.text = buf, .len = len, .file = file, .d = d, .errors_before = d->nerrors};
	m.doc = json_doc_new(file, buf, len);
	size_t bad;
	if (!utf8_valid(buf, len, &bad) || memchr(buf, '\0', len)) {
		size_t at = utf8_valid(buf, len, &bad) ? (size_t)((const char *)memchr(buf, '\0', len) - buf) : bad;
		md_err(&m, at, "invalid UTF-8: byte 0x%02x (save the file as UTF-8 text)", (unsigned char)buf[at]);
		json_doc_free(m.doc);
		return NULL;
	}
	size_t cap = 0;
	xgrow(&m.lines, &cap, 1, sizeof *m.lines);
	m.lines[m.nlines++] = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' || (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
			xgrow(&m.lines, &cap, m.nlines + 1, sizeof *m.lines);
			m.lines[m.nlines++] = i + 1;
		}
	}
	cmark_gfm_core_extensions_ensure_registered();
	cmark_parser *p = cmark_parser_new(CMARK_OPT_DEFAULT);
	static const char *const exts[] = {"tasklist", "table"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(exts); i++) {
		cmark_syntax_extension *e = cmark_find_syntax_extension(exts[i]);
		if (e)
			cmark_parser_attach_syntax_extension(p, e);
	}
	cmark_parser_feed(p, buf, len);
	cmark_node *doc = cmark_parser_finish(p);
	json_doc_build(m.doc, true);
	check_inline_comments(&m, doc);
	cJSON *root = build(&m, doc);
	json_doc_build(m.doc, false);
	json_doc_set_root(m.doc, root);
	cmark_node_free(doc);
	cmark_parser_free(p);
	free(m.lines);
	if (d->nerrors > m.errors_before) {
		json_doc_free(m.doc);
		return NULL;
	}
	return m.doc;
}
