/*
 * value.c — reference-counted values: construction, objects and lists,
 * equality, JSON in and out, and formatting for people.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rbc/value.h"

/* Longest list or object shown in full by value_format. */
#define FORMAT_MAX_ITEMS 10

static const char *const type_names[] = {
#define VALUE_TYPE_NAME(name, text) text,
	RBC_VALUE_TYPES(VALUE_TYPE_NAME)
#undef VALUE_TYPE_NAME
};

/* Fields of a sample that carry a dimension when given as plain numbers. */
static const struct {
	const char *name;
	enum rbc_dim dim;
} field_dims[] = {
	{"time", RBC_DIM_TIME},
	{"size", RBC_DIM_SIZE},
};

const char *value_type_name(enum value_type t)
{
	return (size_t)t < RBC_ARRAY_LEN(type_names) ? type_names[t] : "?";
}

/* Allocates a value of type t with one reference. */
static struct rbc_value *value_alloc(enum value_type t)
{
	struct rbc_value *v = xcalloc(1, sizeof *v);
	v->type = t;
	v->refs = 1;
	return v;
}

struct rbc_value *value_missing_new(const char *fmt, ...)
{
	struct rbc_value *v = value_alloc(VALUE_MISSING);
	va_list ap;
	va_start(ap, fmt);
	v->u.why = xvasprintf(fmt, ap);
	va_end(ap);
	return v;
}

struct rbc_value *value_null_new(void)
{
	return value_alloc(VALUE_NULL);
}

struct rbc_value *value_bool_new(bool b)
{
	struct rbc_value *v = value_alloc(VALUE_BOOL);
	v->u.b = b;
	return v;
}

struct rbc_value *value_num_new(double d, enum rbc_dim dim)
{
	struct rbc_value *v = value_alloc(VALUE_NUM);
	v->u.num.v = d;
	v->u.num.dim = dim;
	return v;
}

struct rbc_value *value_str_new(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return value_str_take(p, n);
}

struct rbc_value *value_strz_new(const char *s)
{
	return value_str_new(s, strlen(s));
}

struct rbc_value *value_str_take(char *s, size_t n)
{
	struct rbc_value *v = value_alloc(VALUE_STR);
	v->u.str.s = s;
	v->u.str.len = n;
	return v;
}

struct rbc_value *value_list_new(void)
{
	return value_alloc(VALUE_LIST);
}

struct rbc_value *value_obj_new(bool icase)
{
	struct rbc_value *v = value_alloc(VALUE_OBJ);
	v->u.obj.icase = icase;
	return v;
}

struct rbc_value *value_ref(const struct rbc_value *cv)
{
	/* References are bookkeeping, not a change of the value itself. */
	struct rbc_value *v = (struct rbc_value *)cv;
	if (v)
		v->refs++;
	return v;
}

void value_free(struct rbc_value *v)
{
	if (!v || --v->refs > 0)
		return;
	switch (v->type) {
	case VALUE_MISSING:
		free(v->u.why);
		break;
	case VALUE_STR:
		free(v->u.str.s);
		break;
	case VALUE_LIST:
		for (size_t i = 0; i < v->u.list.n; i++)
			value_free(v->u.list.v[i]);
		free(v->u.list.v);
		break;
	case VALUE_OBJ:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			free(v->u.obj.keys[i]);
			value_free(v->u.obj.vals[i]);
		}
		free(v->u.obj.keys);
		free(v->u.obj.vals);
		break;
	default:
		break;
	}
	free(v);
}

void value_list_push_take(struct rbc_value *list, struct rbc_value *item)
{
	xgrow(&list->u.list.v, &list->u.list.cap, list->u.list.n + 1, sizeof *list->u.list.v);
	list->u.list.v[list->u.list.n++] = item;
}

/* Index of key in obj, or -1; of a duplicated key (from JSON), the last one. */
static long obj_find(const struct rbc_value *obj, const char *key, size_t n)
{
	for (size_t i = obj->u.obj.n; i-- > 0;) {
		const char *k = obj->u.obj.keys[i];
		if (strlen(k) != n || memchr(key, '\0', n))
			continue;
		if (obj->u.obj.icase ? strncasecmp(k, key, n) == 0 : memcmp(k, key, n) == 0)
			return (long)i;
	}
	return -1;
}

/* Appends key (copied) and val (taken) without looking for an old one. */
static void obj_push(struct rbc_value *obj, const char *key, struct rbc_value *val)
{
	/* keys and vals always have the same capacity: grow both from it. */
	size_t cap = obj->u.obj.cap;
	xgrow(&obj->u.obj.keys, &cap, obj->u.obj.n + 1, sizeof *obj->u.obj.keys);
	xgrow(&obj->u.obj.vals, &obj->u.obj.cap, obj->u.obj.n + 1, sizeof *obj->u.obj.vals);
	obj->u.obj.keys[obj->u.obj.n] = xstrdup(key);
	obj->u.obj.vals[obj->u.obj.n++] = val;
}

void value_obj_set_take(struct rbc_value *obj, const char *key, struct rbc_value *val)
{
	long i = obj_find(obj, key, strlen(key));
	if (i >= 0) {
		value_free(obj->u.obj.vals[i]);
		obj->u.obj.vals[i] = val;
		return;
	}
	obj_push(obj, key, val);
}

const struct rbc_value *value_obj_getn(const struct rbc_value *obj, const char *key, size_t n)
{
	if (!obj || obj->type != VALUE_OBJ)
		return NULL;
	long i = obj_find(obj, key, n);
	return i >= 0 ? obj->u.obj.vals[i] : NULL;
}

const struct rbc_value *value_obj_get(const struct rbc_value *obj, const char *key)
{
	return value_obj_getn(obj, key, strlen(key));
}

struct rbc_value *value_str_cut(struct rbc_value *v, unsigned cut)
{
	if (v && v->type == VALUE_STR)
		v->u.str.cut = cut;
	return v;
}

/* Masked text of n bytes of s, or NULL when masking leaves it as it is. */
static char *masked_or_null(const struct mask *m, const char *s, size_t n, unsigned cut,
                            size_t *out_len)
{
	size_t hits = 0;
	char *t = mask_text_cut(m, s, n, cut, out_len, &hits);
	if (hits)
		return t;
	free(t);
	return NULL;
}

struct rbc_value *value_masked(const struct rbc_value *v, const struct mask *m)
{
	if (!v || !mask_count(m))
		return value_ref(v);
	if (v->secret)
		return value_strz_new(MASK_TEXT);
	switch (v->type) {
	case VALUE_NUM: {
		char *t = value_to_text(v);
		bool hit = mask_hits_long(m, t, strlen(t), MASK_NUMBER_MIN);
		free(t);
		return hit ? value_strz_new(MASK_TEXT) : value_ref(v);
	}
	case VALUE_STR: {
		size_t n;
		char *t = masked_or_null(m, v->u.str.s, v->u.str.len, v->u.str.cut, &n);
		return t ? value_str_take(t, n) : value_ref(v);
	}
	case VALUE_MISSING: {
		char *t = masked_or_null(m, v->u.why, strlen(v->u.why), 0, NULL);
		if (!t)
			return value_ref(v);
		struct rbc_value *r = value_missing_new("%s", t);
		free(t);
		return r;
	}
	case VALUE_LIST:
	case VALUE_OBJ: {
		bool list = v->type == VALUE_LIST;
		size_t n = list ? v->u.list.n : v->u.obj.n;
		struct rbc_value *r = NULL;
		for (size_t i = 0; i < n; i++) {
			const struct rbc_value *item = list ? v->u.list.v[i] : v->u.obj.vals[i];
			struct rbc_value *mi = value_masked(item, m);
			char *key = list ? NULL : mask_text(m, v->u.obj.keys[i]);
			bool same = mi == item && (list || strcmp(key, v->u.obj.keys[i]) == 0);
			if (same && !r) {
				value_free(mi);
				free(key);
				continue;
			}
			if (!r) {
				/* The first change: copy what came before it. */
				r = list ? value_list_new() : value_obj_new(v->u.obj.icase);
				for (size_t k = 0; k < i; k++) {
					if (list)
						value_list_push_take(r, value_ref(v->u.list.v[k]));
					else
						obj_push(r, v->u.obj.keys[k], value_ref(v->u.obj.vals[k]));
				}
			}
			if (list)
				value_list_push_take(r, mi);
			else
				obj_push(r, key, mi);
			free(key);
		}
		return r ? r : value_ref(v);
	}
	default:
		return value_ref(v);
	}
}

bool value_equal(const struct rbc_value *a, const struct rbc_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case VALUE_NULL:
		return true;
	case VALUE_BOOL:
		return a->u.b == b->u.b;
	case VALUE_NUM:
		return a->u.num.v == b->u.num.v;
	case VALUE_STR:
		return a->u.str.len == b->u.str.len &&
		       memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
	case VALUE_LIST:
		if (a->u.list.n != b->u.list.n)
			return false;
		for (size_t i = 0; i < a->u.list.n; i++)
			if (!value_equal(a->u.list.v[i], b->u.list.v[i]))
				return false;
		return true;
	case VALUE_OBJ:
		if (a->u.obj.n != b->u.obj.n)
			return false;
		for (size_t i = 0; i < a->u.obj.n; i++) {
			const struct rbc_value *o = value_obj_get(b, a->u.obj.keys[i]);
			if (!o || !value_equal(a->u.obj.vals[i], o))
				return false;
		}
		return true;
	default:
		return false; /* two unknowns are not known to be equal */
	}
}

enum rbc_dim value_field_dim(const char *name)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(field_dims); i++)
		if (strcmp(field_dims[i].name, name) == 0)
			return field_dims[i].dim;
	return RBC_DIM_NONE;
}

/* Length of the digits at s[0..n). */
static size_t span_digits(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

bool value_parse_number(const char *s, size_t n, double *v, enum rbc_dim *dim)
{
	size_t i = 0;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	size_t d = span_digits(s + i, n - i);
	if (d == 0)
		return false;
	i += d;
	if (i < n && s[i] == '.') {
		d = span_digits(s + i + 1, n - i - 1);
		if (d == 0)
			return false;
		i += 1 + d;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < n && (s[j] == '-' || s[j] == '+'))
			j++;
		d = span_digits(s + j, n - j);
		if (d > 0)
			i = j + d;
	}
	if (i > 64)
		return false;
	char buf[72];
	memcpy(buf, s, i);
	buf[i] = '\0';
	double x = strtod(buf, NULL), factor = 1;
	*dim = RBC_DIM_NONE;
	if (i < n && !units_lookup(s + i, n - i, &factor, dim))
		return false;
	x *= factor;
	if (!isfinite(x))
		return false;
	*v = x;
	return true;
}

struct rbc_value *value_parse_scalar(const char *s, size_t n, const char *field)
{
	static const struct {
		const char *word;
		int b; /* -1: null */
	} words[] = {{"true", 1}, {"false", 0}, {"null", -1}};
	for (size_t i = 0; i < RBC_ARRAY_LEN(words); i++) {
		if (strlen(words[i].word) == n && memcmp(words[i].word, s, n) == 0)
			return words[i].b < 0 ? value_null_new() : value_bool_new(words[i].b);
	}
	double x;
	enum rbc_dim dim;
	if (value_parse_number(s, n, &x, &dim)) {
		if (dim == RBC_DIM_NONE && field)
			dim = value_field_dim(field);
		return value_num_new(x, dim);
	}
	return value_str_new(s, n);
}

struct rbc_value *value_from_json(const cJSON *j)
{
	if (!j || cJSON_IsNull(j))
		return value_null_new();
	if (cJSON_IsBool(j))
		return value_bool_new(cJSON_IsTrue(j));
	if (cJSON_IsNumber(j))
		return value_num_new(j->valuedouble, RBC_DIM_NONE);
	if (cJSON_IsString(j) || cJSON_IsRaw(j))
		return value_strz_new(j->valuestring ? j->valuestring : "");
	if (cJSON_IsArray(j)) {
		struct rbc_value *l = value_list_new();
		for (const cJSON *c = j->child; c; c = c->next)
			value_list_push_take(l, value_from_json(c));
		return l;
	}
	if (cJSON_IsObject(j)) {
		struct rbc_value *o = value_obj_new(false);
		/* Appended, not set: a body with many keys must not take quadratic time. */
		for (const cJSON *c = j->child; c; c = c->next)
			obj_push(o, c->string ? c->string : "", value_from_json(c));
		return o;
	}
	return value_null_new();
}

struct rbc_value *value_sample_from_json(const cJSON *j)
{
	struct rbc_value *s = value_obj_new(false);
	if (!cJSON_IsObject(j))
		return s;
	for (const cJSON *c = j->child; c; c = c->next) {
		const char *key = c->string ? c->string : "";
		struct rbc_value *v = value_from_json(c);
		if (v->type == VALUE_NUM)
			v->u.num.dim = value_field_dim(key);
		if (v->type == VALUE_OBJ && strcmp(key, "header") == 0)
			v->u.obj.icase = true;
		obj_push(s, key, v);
	}
	return s;
}


cJSON *value_to_json(const struct rbc_value *v)
{
	switch (v->type) {
	case VALUE_BOOL:
		return cJSON_CreateBool(v->u.b);
	case VALUE_NUM:
		return cJSON_CreateNumber(v->u.num.v);
	case VALUE_STR: {
		char *s = utf8_copy_valid(v->u.str.s, v->u.str.len);
		cJSON *j = cJSON_CreateString(s);
		free(s);
		return j;
	}
	case VALUE_LIST: {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; i < v->u.list.n; i++)
			cJSON_AddItemToArray(a, value_to_json(v->u.list.v[i]));
		return a;
	}
	case VALUE_OBJ: {
		cJSON *o = cJSON_CreateObject();
		for (size_t i = 0; i < v->u.obj.n; i++) {
			char *k = utf8_copy_valid(v->u.obj.keys[i], strlen(v->u.obj.keys[i]));
			cJSON_AddItemToObject(o, k, value_to_json(v->u.obj.vals[i]));
			free(k);
		}
		return o;
	}
	default:
		return cJSON_CreateNull();
	}
}

/* Appends n bytes of s quoted, escaped, cut after maxchars characters. */
static void format_text(struct strbuf *sb, const char *s, size_t n, size_t maxchars)
{
	static const char esc[][2] = {{'\n', 'n'}, {'\t', 't'}, {'\r', 'r'}, {'"', '"'}, {'\\', '\\'}};
	size_t i = 0, chars = 0;
	sb_addc(sb, '"');
	while (i < n) {
		if (maxchars && chars == maxchars) {
			sb_adds(sb, "\xE2\x80\xA6");
			break;
		}
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);
		size_t e = 0;
		while (e < RBC_ARRAY_LEN(esc) && esc[e][0] != (char)c)
			e++;
		if (e < RBC_ARRAY_LEN(esc)) {
			sb_addc(sb, '\\');
			sb_addc(sb, esc[e][1]);
			k = 1;
		} else if (k == 0 || c < 0x20 || c == 0x7F) {
			sb_addf(sb, "\\x%02X", c);
			k = 1;
		} else {
			sb_add(sb, s + i, k);
		}
		i += k;
		chars++;
	}
	sb_addc(sb, '"');
}

/* Appends a number with its unit; huge or non-finite numbers plainly. */
static void format_num(struct strbuf *sb, double v, enum rbc_dim dim)
{
	static const char *const base_units[] = {"", " ms", " B", " %"};
	char buf[64];
	if (!isfinite(v) || fabs(v) >= 1e15) {
		double shown = dim == RBC_DIM_PERCENT ? v * 100 : v;
		snprintf(buf, sizeof buf, "%g%s", shown, base_units[dim]);
		sb_adds(sb, buf);
		return;
	}
	sb_adds(sb, units_format(v, dim, buf, sizeof buf));
}

void value_format_sb(struct strbuf *sb, const struct rbc_value *v, size_t maxchars)
{
	switch (v->type) {
	case VALUE_MISSING:
		sb_adds(sb, "unknown");
		break;
	case VALUE_NULL:
		sb_adds(sb, "null");
		break;
	case VALUE_BOOL:
		sb_adds(sb, v->u.b ? "true" : "false");
		break;
	case VALUE_NUM:
		format_num(sb, v->u.num.v, v->u.num.dim);
		break;
	case VALUE_STR:
		format_text(sb, v->u.str.s, v->u.str.len, maxchars);
		break;
	case VALUE_LIST:
	case VALUE_OBJ: {
		bool list = v->type == VALUE_LIST;
		size_t n = list ? v->u.list.n : v->u.obj.n;
		sb_addc(sb, list ? '[' : '{');
		for (size_t i = 0; i < n; i++) {
			if (i)
				sb_adds(sb, ", ");
			if (maxchars && i == FORMAT_MAX_ITEMS) {
				sb_addf(sb, "\xE2\x80\xA6 (%zu items)", n);
				break;
			}
			if (!list) {
				const char *k = v->u.obj.keys[i];
				format_text(sb, k, strlen(k), maxchars);
				sb_adds(sb, ": ");
			}
			value_format_sb(sb, list ? v->u.list.v[i] : v->u.obj.vals[i], maxchars);
		}
		sb_addc(sb, list ? ']' : '}');
		break;
	}
	}
}

char *value_format(const struct rbc_value *v, size_t maxchars)
{
	struct strbuf sb = {0};
	value_format_sb(&sb, v, maxchars);
	return sb_take(&sb);
}

/* The shortest text of d that reads back as d. */
static char *num_text(double d)
{
	if (d == floor(d) && fabs(d) < 1e15)
		return xasprintf("%.0f", d);
	char *s = xasprintf("%.15g", d);
	if (strtod(s, NULL) != d) {
		free(s);
		s = xasprintf("%.17g", d);
	}
	return s;
}

char *value_to_text(const struct rbc_value *v)
{
	switch (v->type) {
	case VALUE_MISSING:
		return xstrdup("");
	case VALUE_STR:
		return xstrndup(v->u.str.s, v->u.str.len);
	case VALUE_NUM:
		return num_text(v->u.num.v);
	case VALUE_NULL:
	case VALUE_BOOL:
		return value_format(v, 0);
	default: {
		cJSON *j = value_to_json(v);
		char *s = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		char *r = xstrdup(s ? s : "");
		cJSON_free(s);
		return r;
	}
	}
}
