/*
 * sample.c — what the record keeps of a sample (docs/journal.md, "What a
 * sample line keeps").
 *
 * A probe's sample may hold a body of megabytes, its parsed JSON, a
 * thousand SQL rows. The judgement reads a few fields of it; the record
 * keeps what the judgement read and enough to recognise the rest, bounded
 * whatever the server sent:
 *
 * - every field at the top that is a number, a boolean or null, and every
 *   text up to SAMPLE_TEXT bytes;
 * - a longer text as its first SAMPLE_TEXT bytes (secrets masked before the
 *   cut, cut at a character), its size and the sha256 of the whole of it
 *   (masked: a digest never confirms a guessed secret);
 * - what the step's expressions read (expect, warn, until, captures), by
 *   path: json.status keeps json as an object holding status alone;
 *   a value read whole (len(json.items)) is kept up to the record's budget;
 * - a list or object nobody read only when it is small (SAMPLE_SMALL).
 *
 * Whatever was left out is listed under "elided", by path: a cut text with
 * {bytes, sha256}, a list or object with {items or keys, kept}.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rbc/mask.h"
#include "rbc/sha256.h"
#include "rbc/util.h"

#define SAMPLE_TEXT 256      /* bytes kept of a longer text */
#define SAMPLE_SMALL 512     /* a list or object no expression reads: kept up to this */
#define SAMPLE_BUDGET 2048   /* everything else a record keeps, in all (roughly) */
#define SAMPLE_PATH_MAX 200  /* longer paths are not listed one by one */
#define SAMPLE_INDEX_MAX 64  /* a list read at an index: items kept up to this one */

/* The paths the step's expressions read, as a tree (the root has no name). */
struct reads {
	char *name;              /* a member or key (len bytes); NULL: a list index */
	size_t len;
	long index;
	bool whole;              /* the value here is read whole */
	struct reads *kids;
	size_t nkids, cap;
};

/* Below a value read whole every part of it is read whole: its items' marker. */
static const struct reads read_whole = {.whole = true};

static void reads_free(struct reads *r)
{
	for (size_t i = 0; i < r->nkids; i++)
		reads_free(&r->kids[i]);
	free(r->kids);
	free(r->name);
}

/* expr_foreach_path callback: adds one path to the tree. */
static void reads_add(const struct expr_path_step *steps, size_t n, void *ud)
{
	struct reads *at = ud;
	for (size_t i = 0; i < n; i++) {
		const struct expr_path_step *st = &steps[i];
		struct reads *kid = NULL;
		for (size_t k = 0; k < at->nkids && !kid; k++) {
			struct reads *c = &at->kids[k];
			if (st->name ? c->name && c->len == st->len && !memcmp(c->name, st->name, st->len)
			             : !c->name && c->index == st->index)
				kid = c;
		}
		if (!kid) {
			xgrow(&at->kids, &at->cap, at->nkids + 1, sizeof *at->kids);
			kid = &at->kids[at->nkids++];
			*kid = (struct reads){.index = st->index};
			if (st->name) {
				kid->name = xstrndup(st->name, st->len);
				kid->len = st->len;
			}
		}
		at = kid;
	}
	at->whole = true;
}

/* The paths every expression of the step reads over its samples. */
static void reads_of(const struct rb_step *d, struct reads *root)
{
	expr_foreach_path(d->expect, reads_add, root);
	expr_foreach_path(d->warn, reads_add, root);
	expr_foreach_path(d->repeat.until, reads_add, root);
	for (size_t i = 0; i < d->ncaptures; i++)
		expr_foreach_path(d->captures[i].expr, reads_add, root);
}

/* A record being made. */
struct rec {
	const struct mask *mask;
	struct rbc_value *elided;    /* path → what was left out there */
	size_t left;                 /* of SAMPLE_BUDGET */
	struct strbuf path;          /* of the value at hand */
};

static void spend(struct rec *r, size_t n)
{
	r->left = n < r->left ? r->left - n : 0;
}

/* Notes what was left out at the current path (taking info); when the
   budget is spent, only where noted says (a field, a path read). */
static void elide(struct rec *r, struct rbc_value *info, bool noted)
{
	if ((!noted && !r->left) || r->path.len > SAMPLE_PATH_MAX || !r->path.len) {
		value_free(info);
		return;
	}
	char *key = mask_text(r->mask, sb_borrow(&r->path));
	spend(r, strlen(key) + 48);
	value_obj_set_take(r->elided, key, info);
	free(key);
}

/* Appends a step to the path; returns the length to go back to. */
static size_t path_push(struct rec *r, const char *name, size_t len, long index)
{
	size_t old = r->path.len;
	if (!name) {
		sb_addf(&r->path, "[%ld]", index);
		return old;
	}
	bool plain = len > 0 && memchr(name, '\0', len) == NULL;
	for (size_t i = 0; i < len && plain; i++) {
		char c = name[i];
		plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		        (i > 0 && c >= '0' && c <= '9');
	}
	if (plain) {
		if (old)
			sb_addc(&r->path, '.');
		sb_add(&r->path, name, len);
		return old;
	}
	sb_adds(&r->path, "[\"");
	for (size_t i = 0; i < len && i < SAMPLE_PATH_MAX; i++) {
		if (name[i] == '"' || name[i] == '\\')
			sb_addc(&r->path, '\\');
		sb_addc(&r->path, name[i] ? name[i] : '?');
	}
	sb_adds(&r->path, "\"]");
	return old;
}

static void path_pop(struct rec *r, size_t old)
{
	r->path.len = old;
	if (r->path.s)
		r->path.s[old] = '\0';
}

/* The first bytes and the digest of a masked text, fed in pieces. */
struct cut {
	struct sha256 sha;
	struct strbuf head;
};

static void cut_emit(void *ud, const char *data, size_t len)
{
	struct cut *c = ud;
	sha256_update(&c->sha, data, len);
	if (c->head.len < SAMPLE_TEXT + 4)
		sb_add(&c->head, data, len < SAMPLE_TEXT + 4 - c->head.len ? len : SAMPLE_TEXT + 4 - c->head.len);
}

/* A text: itself when short, else its masked head, noted with its size and digest. */
static struct rbc_value *rec_text(struct rec *r, const struct rbc_value *v, bool noted)
{
	size_t n = v->u.str.len;
	if (n <= SAMPLE_TEXT) {
		spend(r, n + 2);
		return value_ref(v);
	}
	struct cut c = {0};
	sha256_init(&c.sha);
	if (v->u.str.cut) {
		/* A window (a command's last bytes, a body cut at max_body): a
		   secret may cross its ends. A window is bounded: masked whole. */
		size_t mlen = 0;
		char *m = mask_text_cut(r->mask, v->u.str.s, n, v->u.str.cut, &mlen, NULL);
		cut_emit(&c, m, mlen);
		free(m);
	} else {
		struct mask_stream ms;
		mask_stream_init(&ms, r->mask);
		mask_stream_feed(&ms, v->u.str.s, n, cut_emit, &c);
		mask_stream_flush(&ms, cut_emit, &c);
		mask_stream_free(&ms);
	}
	char hex[65];
	sha256_hex(&c.sha, hex);
	/* Cut at a character: never inside a UTF-8 sequence (nor a mask). */
	size_t keep = c.head.len < SAMPLE_TEXT ? c.head.len : SAMPLE_TEXT;
	while (keep > 0 && keep < c.head.len && ((unsigned char)c.head.s[keep] & 0xC0) == 0x80)
		keep--;
	struct rbc_value *info = value_obj_new(false);
	value_obj_set_take(info, "bytes", value_num_new((double)n, RBC_DIM_SIZE));
	value_obj_set_take(info, "sha256", value_strz_new(hex));
	elide(r, info, noted);
	spend(r, keep + 2);
	struct rbc_value *head = value_str_new(c.head.s ? c.head.s : "", keep);
	sb_free(&c.head);
	return head;
}

/* True when v (no text longer than SAMPLE_TEXT in it) takes at most limit
   bytes; *size gets what it takes. Stops counting past the limit. */
static bool fits(const struct rbc_value *v, size_t limit, size_t *size)
{
	switch (v->type) {
	case VALUE_STR:
		if (v->u.str.len > SAMPLE_TEXT)
			return false;
		*size += v->u.str.len + 2;
		break;
	case VALUE_LIST:
		*size += 2;
		for (size_t i = 0; i < v->u.list.n && *size <= limit; i++)
			if (!fits(v->u.list.v[i], limit, size))
				return false;
		break;
	case VALUE_OBJ:
		*size += 2;
		for (size_t i = 0; i < v->u.obj.n && *size <= limit; i++) {
			*size += strlen(v->u.obj.keys[i]) + 3;
			if (!fits(v->u.obj.vals[i], limit, size))
				return false;
		}
		break;
	default:
		*size += 8;
		break;
	}
	return *size <= limit;
}

static size_t items_of(const struct rbc_value *v)
{
	return v->type == VALUE_LIST ? v->u.list.n : v->u.obj.n;
}

/* Notes a list or object of which kept items were kept. */
static void elide_items(struct rec *r, const struct rbc_value *v, size_t kept, bool noted)
{
	struct rbc_value *info = value_obj_new(false);
	value_obj_set_take(info, v->type == VALUE_LIST ? "items" : "keys",
	                   value_num_new((double)items_of(v), RBC_DIM_NONE));
	value_obj_set_take(info, "kept", value_num_new((double)kept, RBC_DIM_NONE));
	elide(r, info, noted);
}

static struct rbc_value *rec_value(struct rec *r, const struct rbc_value *v, const struct reads *rd,
                                   bool top);

/* A list or object read at some paths below it: those, and nothing else. */
static struct rbc_value *rec_pruned(struct rec *r, const struct rbc_value *v, const struct reads *rd,
                                    bool noted)
{
	struct rbc_value *out;
	size_t kept = 0;
	if (v->type == VALUE_OBJ) {
		out = value_obj_new(v->u.obj.icase);
		for (size_t k = 0; k < rd->nkids; k++) {
			const struct reads *kid = &rd->kids[k];
			const struct rbc_value *c = kid->name ? value_obj_getn(v, kid->name, kid->len) : NULL;
			if (!c)
				continue; /* absent: the explanation says so */
			size_t old = path_push(r, kid->name, kid->len, 0);
			struct rbc_value *x = rec_value(r, c, kid, false);
			path_pop(r, old);
			if (x && !value_obj_getn(out, kid->name, kid->len)) {
				spend(r, kid->len + 3);
				value_obj_set_take(out, kid->name, x);
				kept++;
			} else {
				value_free(x);
			}
		}
	} else {
		/* Items up to the last index read, in place; the others as nobody's. */
		long last = -1;
		for (size_t k = 0; k < rd->nkids; k++)
			if (!rd->kids[k].name && rd->kids[k].index > last)
				last = rd->kids[k].index;
		if (last > SAMPLE_INDEX_MAX)
			last = SAMPLE_INDEX_MAX;
		out = value_list_new();
		for (size_t i = 0; i < v->u.list.n && (long)i <= last; i++) {
			const struct reads *kid = NULL;
			for (size_t k = 0; k < rd->nkids && !kid; k++)
				if (!rd->kids[k].name && rd->kids[k].index == (long)i)
					kid = &rd->kids[k];
			size_t old = path_push(r, NULL, 0, (long)i);
			struct rbc_value *x = rec_value(r, v->u.list.v[i], kid, false);
			path_pop(r, old);
			value_list_push_take(out, x ? x : value_null_new());
			kept++;
		}
	}
	if (kept < items_of(v))
		elide_items(r, v, kept, noted);
	return out;
}

/* A list or object read whole: items in order while the budget lasts. */
static struct rbc_value *rec_whole(struct rec *r, const struct rbc_value *v, bool noted)
{
	size_t size = 0;
	if (fits(v, r->left, &size)) {
		spend(r, size);
		return value_ref(v);
	}
	struct rbc_value *out = v->type == VALUE_OBJ ? value_obj_new(v->u.obj.icase) : value_list_new();
	size_t n = items_of(v), kept = 0;
	for (size_t i = 0; i < n && r->left; i++, kept++) {
		const char *key = v->type == VALUE_OBJ ? v->u.obj.keys[i] : NULL;
		size_t old = path_push(r, key, key ? strlen(key) : 0, (long)i);
		const struct rbc_value *c = v->type == VALUE_OBJ ? v->u.obj.vals[i] : v->u.list.v[i];
		struct rbc_value *x = rec_value(r, c, &read_whole, false);
		path_pop(r, old);
		if (v->type == VALUE_OBJ) {
			spend(r, strlen(key) + 3);
			value_obj_set_take(out, key, x ? x : value_null_new());
		} else {
			value_list_push_take(out, x ? x : value_null_new());
		}
	}
	if (kept < n)
		elide_items(r, v, kept, noted);
	return out;
}

/*
 * What the record keeps of v, read as rd says (NULL: by nobody): a new
 * value, or NULL when it is left out (and noted).
 */
static struct rbc_value *rec_value(struct rec *r, const struct rbc_value *v, const struct reads *rd,
                                   bool top)
{
	/* A field and a path an expression names are always accounted for. */
	bool noted = top || (rd && rd != &read_whole);
	switch (v->type) {
	case VALUE_STR:
		return rec_text(r, v, noted);
	case VALUE_LIST:
	case VALUE_OBJ:
		break;
	default:
		spend(r, 8);
		return value_ref(v);
	}
	if (rd && !rd->whole && rd->nkids)
		return rec_pruned(r, v, rd, noted);
	if (rd)
		return rec_whole(r, v, noted);
	size_t size = 0, limit = r->left < SAMPLE_SMALL ? r->left : SAMPLE_SMALL;
	if (fits(v, limit, &size)) {
		spend(r, size);
		return value_ref(v);
	}
	elide_items(r, v, 0, noted);
	return NULL;
}

struct rbc_value *sample_record(struct engine *e, const struct eng_step *s,
                                const struct rbc_value *sample)
{
	if (!sample || sample->type != VALUE_OBJ)
		return value_ref(sample);
	struct reads root = {0};
	reads_of(s->def, &root);
	struct rec r = {.mask = e->mask, .elided = value_obj_new(false), .left = SAMPLE_BUDGET};
	size_t n = sample->u.obj.n;
	struct rbc_value **kept = xcalloc(n ? n : 1, sizeof *kept);
	/* What the expressions read first, so the budget goes to it. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const char *key = sample->u.obj.keys[i];
			const struct reads *rd = NULL;
			for (size_t k = 0; k < root.nkids && !rd; k++)
				if (root.kids[k].name && !strcmp(root.kids[k].name, key))
					rd = &root.kids[k];
			if ((pass == 0) != (rd != NULL))
				continue;
			size_t old = path_push(&r, key, strlen(key), 0);
			kept[i] = rec_value(&r, sample->u.obj.vals[i], rd, true);
			path_pop(&r, old);
		}
	}
	struct rbc_value *out = value_obj_new(sample->u.obj.icase);
	for (size_t i = 0; i < n; i++)
		if (kept[i])
			value_obj_set_take(out, sample->u.obj.keys[i], kept[i]);
	if (r.elided->u.obj.n)
		value_obj_set_take(out, "elided", r.elided);
	else
		value_free(r.elided);
	free(kept);
	sb_free(&r.path);
	reads_free(&root);
	return out;
}
