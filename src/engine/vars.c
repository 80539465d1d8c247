/*
 * vars.c — variables of a run: where a name's value comes from, ${NAME}
 * expansion, and the environment of commands.
 *
 * A name resolves, first match wins, to: a capture made earlier in the run,
 * a --var / --vars value, a secret (read from the environment when the run
 * started), the runbook's own vars (whose values may use ${…} in turn).
 * Values are text; vars.NAME in an expression is that text (num() reads a
 * number out of it). Commands never get values spliced into their text: they
 * get every variable as an environment variable. Where a value is spliced
 * into a structured string (a connection string, a URL, a PromQL query, a
 * JSON body) it is quoted for its place (enum vars_quote).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include <cjson/cJSON.h>

#include "internal.h"

#define VARS_MAX_DEPTH 8
/* Longest expansion: vars built from vars cannot blow up past this. */
#define VARS_MAX_LEN (256 * 1024)

static struct capture *cap_find(struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->ncaps; i++)
		if (strcmp(e->caps[i].name, name) == 0)
			return &e->caps[i];
	return NULL;
}

/* True when rb declares name a secret. */
static bool secret_of(const struct runbook *rb, const char *name)
{
	for (size_t i = 0; rb && i < rb->nsecrets; i++)
		if (strcmp(rb->secrets[i], name) == 0)
			return true;
	return false;
}

bool vars_is_secret(const struct engine *e, const struct eng_step *s, const char *name)
{
	if (s && (secret_of(s->rb, name) || (s->def && secret_of(s->def->runbook, name))))
		return true;
	/* a call: its callee's secrets are the call's too */
	if (s && s->def && s->def->call && secret_of(s->def->call->runbook, name))
		return true;
	return rb_kv_get(&e->secrets, name) != NULL;
}

/* name among call node n's own variables, or NULL. */
const struct capture *vars_scope_get(const struct node *n, const char *name)
{
	for (size_t i = 0; i < n->nscope; i++)
		if (strcmp(n->scope[i].name, name) == 0)
			return &n->scope[i];
	return NULL;
}

/* Puts take (owned) as name's value in the list *v: in found, its entry
   (its old value freed), else in a new entry at the end. */
static void capture_put(struct capture **v, size_t *n, size_t *cap, struct capture *found,
                        const char *name, struct rbc_value *take)
{
	struct capture *c = found;
	if (!c) {
		xgrow(v, cap, *n + 1, sizeof **v);
		c = &(*v)[(*n)++];
		c->name = xstrdup(name);
	} else {
		value_free(c->value);
		free(c->text);
	}
	c->value = take;
	c->text = value_to_text(take);
}

/* Sets name among n's own variables (a with value, a default, a capture). */
void vars_scope_set(struct node *n, const char *name, struct rbc_value *take)
{
	capture_put(&n->scope, &n->nscope, &n->capscope, (struct capture *)vars_scope_get(n, name), name, take);
}

/* Frees n's own variables. */
void vars_scope_free(struct node *n)
{
	for (size_t i = 0; i < n->nscope; i++) {
		free(n->scope[i].name);
		value_free(n->scope[i].value);
		free(n->scope[i].text);
	}
	free(n->scope);
	n->scope = NULL;
	n->nscope = n->capscope = 0;
}

/*
 * What the iterations and calls around s (or s) bind name to, innermost
 * first: a loop's item (docs/runbook-format.md, "Loops"), a call's variable
 * (its with, its defaults, its steps' captures: "Calls"). They come before
 * any other variable of the name. NULL when none does; *val, when given,
 * the value (NULL for a loop's item).
 */
static const char *bound(const struct eng_step *s, const char *name, const struct rbc_value **val)
{
	if (val)
		*val = NULL;
	for (; s; s = s->parent) {
		const struct node *n = (const struct node *)s;
		if (n->loop_var && strcmp(n->loop_var, name) == 0)
			return n->loop_item;
		const struct capture *c = n->nscope ? vars_scope_get(n, name) : NULL;
		if (c) {
			if (val)
				*val = c->value;
			return c->text;
		}
	}
	return NULL;
}

/* The loop's item or call's variable name is bound to around s, or NULL. */
static const char *loop_bound(const struct eng_step *s, const char *name)
{
	return bound(s, name, NULL);
}

/* The call node strictly above s whose variables a capture of s goes to. */
static struct node *call_around(const struct eng_step *s)
{
	for (const struct eng_step *p = s ? s->parent : NULL; p; p = p->parent)
		if (p->def && p->def->call)
			return (struct node *)p;
	return NULL;
}

/* A capture of step s: the call's around it, else the run's. */
void vars_capture_in(struct engine *e, const struct eng_step *s, const char *name, struct rbc_value *take)
{
	struct node *c = call_around(s);
	if (c)
		vars_scope_set(c, name, take);
	else
		vars_capture(e, name, take);
}

/* The raw text of a variable (runbook vars unexpanded), and where it came from. */
static const char *vars_raw(struct engine *e, const struct eng_step *s, const char *name,
                            bool *from_runbook)
{
	*from_runbook = false;
	const char *item = loop_bound(s, name);
	if (item)
		return item;
	struct capture *c = cap_find(e, name);
	if (c)
		return c->text;
	const char *v = rb_kv_get(&e->vars, name);
	if (v)
		return v;
	v = rb_kv_get(&e->secrets, name);
	if (v)
		return v;
	if (s && s->rb) {
		v = rb_kv_get(&s->rb->vars, name);
		if (v) {
			*from_runbook = true;
			return v;
		}
	}
	return NULL;
}

static bool expand_depth(struct engine *e, const struct eng_step *s, const char *text,
                         enum vars_quote quote, bool keep_unknown, const struct mask *mask,
                         struct strbuf *out, char **error, int depth);

char *vars_get(struct engine *e, const struct eng_step *s, const char *name)
{
	bool from_rb;
	const char *v = vars_raw(e, s, name, &from_rb);
	if (!v)
		return NULL;
	char *out = NULL, *err = NULL;
	if (from_rb && strstr(v, "${") && vars_expand(e, s, v, VARS_PLAIN, &out, &err))
		return out;
	free(err);
	return xstrdup(v);
}

/* ---- splicing a value into structured text --------------------------------- */

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

/* A URL's (or a postgresql:// URI's) component: every byte but RFC 3986's
   unreserved ones percent-encoded, and a value of "." or ".." too, so it is
   one path segment, one parameter's value. */
static void percent_encode(struct strbuf *out, const char *v)
{
	bool dots = *v && strspn(v, ".") == strlen(v) && strlen(v) <= 2;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (unreserved(*p) && !dots)
			sb_addc(out, (char)*p);
		else
			sb_addf(out, "%%%02X", *p);
	}
}

/* u[0..n) ends inside a URL's authority: after its "://" and before the
   path, query or fragment that follows. */
static bool url_in_authority(const char *u, size_t n)
{
	const char *sep = NULL;
	for (size_t i = 0; i + 3 <= n && !sep; i++)
		if (memcmp(u + i, "://", 3) == 0)
			sep = u + i + 3;
	return sep && !memchr(sep, '/', (size_t)(u + n - sep)) && !memchr(sep, '?', (size_t)(u + n - sep)) &&
	       !memchr(sep, '#', (size_t)(u + n - sep));
}

/* A URL's component (percent_encode), except that an IPv6 address in the
   URL's host goes between brackets, its colons its own: the brackets
   written around ${…} are kept, else they are added. */
static void url_component(struct strbuf *out, const char *v)
{
	struct in6_addr a6;
	if (url_in_authority(sb_borrow(out), out->len) && inet_pton(AF_INET6, v, &a6) == 1) {
		bool open = out->len && sb_borrow(out)[out->len - 1] == '[';
		sb_addf(out, open ? "%s" : "[%s]", v);
		return;
	}
	percent_encode(out, v);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Where libpq's key=value syntax stands at the end of conn[0..n). */
enum conn_at { CONN_KEY, CONN_VALUE_START, CONN_UNQUOTED, CONN_QUOTED };

/* The state at the end of conn[0..n), and the keyword of the value there
   (conn + *key, *keylen bytes). */
static enum conn_at conn_state(const char *conn, size_t n, size_t *key, size_t *keylen)
{
	enum conn_at at = CONN_KEY;
	bool in_key = false;
	*key = *keylen = 0;
	for (size_t i = 0; i < n; i++) {
		char c = conn[i];
		switch (at) {
		case CONN_KEY:
			if (c == '=') {
				at = CONN_VALUE_START;
				in_key = false;
			} else if (is_blank(c)) {
				in_key = false;
			} else if (!in_key) {
				in_key = true;
				*key = i;
				*keylen = 0;
			}
			if (in_key)
				(*keylen)++;
			break;
		case CONN_VALUE_START:
			if (c == '\'')
				at = CONN_QUOTED;
			else if (c == '\\') {
				at = CONN_UNQUOTED;
				i++;
			} else if (!is_blank(c))
				at = CONN_UNQUOTED;
			break;
		case CONN_UNQUOTED:
			if (c == '\\')
				i++;
			else if (is_blank(c))
				at = CONN_KEY;
			break;
		case CONN_QUOTED:
			if (c == '\\')
				i++;
			else if (c == '\'')
				at = CONN_KEY;
			break;
		}
	}
	return at;
}

/*
 * The keywords whose values libpq reads as comma-separated lists, one entry
 * per server to try in turn: a comma in a value there adds a server, and
 * the password goes to it too.
 */
static bool conn_list_key(const char *k, size_t n)
{
	static const char *const lists[] = {"host", "hostaddr", "port"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(lists); i++)
		if (strlen(lists[i]) == n && strncmp(k, lists[i], n) == 0)
			return true;
	return false;
}

/*
 * Where a value lands in a postgresql:// URI whose text so far is
 * uri[0..n) (the scheme's prefix plen bytes) and whose text after the value
 * is rest, as libpq parses it: *list when it is part of the host and port
 * list (after any user@, before the first / or ?) or the value of a host,
 * hostaddr or port parameter; *keyword when it stands in a parameter's name.
 */
static void uri_place(const char *uri, size_t n, size_t plen, const char *rest, bool *list, bool *keyword)
{
	*list = *keyword = false;
	const char *net = uri + plen, *end = uri + n;
	size_t span = strcspn(net, "/?");
	if (net + span >= end) {
		/* In the netloc: user information if an @ follows before a /,
		   as libpq looks for it, or if one came before. */
		bool user = !memchr(net, '@', (size_t)(end - net)) && rest[strcspn(rest, "@/")] == '@';
		*list = !user;
		return;
	}
	const char *q = memchr(net, '?', (size_t)(end - net));
	if (!q)
		return; /* the database name */
	const char *param = q + 1;
	for (const char *a = param; a < end; a++)
		if (*a == '&')
			param = a + 1;
	const char *eq = memchr(param, '=', (size_t)(end - param));
	if (!eq)
		*keyword = true;
	else
		*list = conn_list_key(param, (size_t)(eq - param));
}

/*
 * A value in a libpq connection string. In a postgresql:// URI it is
 * percent-encoded. In key=value form: a whole value is single-quoted with
 * ' and \ backslash-escaped; inside quotes the runbook wrote, ' and \ are
 * escaped; next to other text of an unquoted value, blanks, ' and \ are.
 * Where a keyword goes it is refused: it could add keywords (hostaddr=…).
 * In host, hostaddr or port (either form) a value holding a comma is
 * refused: libpq splits those lists after unquoting and decoding.
 */
static bool splice_conn(struct strbuf *out, const char *v, const char *rest, const char *name,
                        char **error)
{
	const char *so_far = sb_borrow(out);
	size_t plen = strncmp(so_far, "postgresql://", 13) == 0 ? 13 : strncmp(so_far, "postgres://", 11) == 0 ? 11 : 0;
	if (plen) {
		bool list, keyword;
		uri_place(so_far, out->len, plen, rest, &list, &keyword);
		if (keyword) {
			*error = xasprintf("${%s} stands where a connection URI parameter's name goes: a variable may be "
			                   "the whole connection string or a value (?sslmode=${%s})", name, name);
			return false;
		}
		if (list && strchr(v, ',')) {
			*error = xasprintf("${%s} is in the connection URI's hosts and ports and its value holds a comma, "
			                   "which libpq reads as a list of servers (the password would go to each)", name);
			return false;
		}
		url_component(out, v);
		return true;
	}
	size_t key, keylen;
	enum conn_at at = conn_state(so_far, out->len, &key, &keylen);
	if (at == CONN_KEY) {
		*error = xasprintf("${%s} stands where a connection string keyword goes: a variable may be the "
		                   "whole connection string or a value (dbname=${%s})", name, name);
		return false;
	}
	if (conn_list_key(so_far + key, keylen) && strchr(v, ',')) {
		*error = xasprintf("${%s} is in %.*s= and its value holds a comma, which libpq reads as a list of "
		                   "servers (the password would go to each)", name, (int)keylen, so_far + key);
		return false;
	}
	bool whole = at == CONN_VALUE_START && (!*rest || is_blank(*rest));
	if (whole)
		sb_addc(out, '\'');
	for (const char *p = v; *p; p++) {
		if (*p == '\'' || *p == '\\' || (at != CONN_QUOTED && !whole && is_blank(*p)))
			sb_addc(out, '\\');
		sb_addc(out, *p);
	}
	if (whole)
		sb_addc(out, '\'');
	return true;
}

/* Where a PromQL query stands at the end of q[0..n): outside a string, or
   in which kind of string literal (", ' or `). */
static char promql_state(const char *q, size_t n)
{
	char in = 0;
	for (size_t i = 0; i < n; i++) {
		char c = q[i];
		if (!in) {
			if (c == '"' || c == '\'' || c == '`')
				in = c;
			else if (c == '#') /* a comment to the end of the line */
				while (i + 1 < n && q[i + 1] != '\n')
					i++;
		} else if (c == '\\' && in != '`') {
			i++;
		} else if (c == in) {
			in = 0;
		}
	}
	return in;
}

/* An ASCII digit. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A character of a PromQL name ([A-Za-z_:] first, digits too after). */
static bool is_name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && is_digit(c));
}

/* s with its leading digits skipped. */
static const char *skip_digits(const char *s)
{
	while (is_digit(*s))
		s++;
	return s;
}

/*
 * True when v is one PromQL token that cannot be more: a number (a sign,
 * digits with a decimal point and an exponent, 0x hex, Inf, NaN), a
 * duration (1h30m, 500ms) or a name ([A-Za-z_:][A-Za-z0-9_:]*). A sign
 * only leads: 5-4, 0-up and 1e3+x are expressions.
 */
static bool promql_token(const char *v)
{
	if (is_name_char(*v, true)) {
		while (is_name_char(*v, false))
			v++;
		return !*v;
	}
	const char *p = v;
	/* A duration: one or more digits-and-unit pairs. */
	while (is_digit(*p)) {
		p = skip_digits(p);
		if (strncmp(p, "ms", 2) == 0)
			p += 2;
		else if (*p && strchr("smhdwy", *p))
			p++;
		else
			break;
		if (!*p)
			return true;
	}
	p = v;
	if (*p == '+' || *p == '-')
		p++;
	if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "nan") == 0)
		return true;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && p[2]) {
		for (p += 2; *p; p++)
			if (!is_digit(*p) && !((*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
				return false;
		return true;
	}
	const char *digits = p;
	p = skip_digits(p);
	bool some = p > digits;
	if (*p == '.') {
		const char *frac = ++p;
		p = skip_digits(p);
		some = some || p > frac;
	}
	if (!some)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return false;
		p = skip_digits(p);
	}
	return !*p;
}

/*
 * A value in a PromQL query. Inside a "…" or '…' string it is escaped as
 * Go escapes it (\\, the quote, line breaks), inside a `…` string it may
 * hold no backtick; outside a string it must be a number, a duration or a
 * name — else it could add operators, selectors or a comment.
 */
static bool splice_promql(struct strbuf *out, const char *v, const char *name, char **error)
{
	char in = promql_state(sb_borrow(out), out->len);
	if (in == '`') {
		if (strchr(v, '`')) {
			*error = xasprintf("${%s} is inside a `…` string of the query and its value holds a backtick",
			                   name);
			return false;
		}
		sb_adds(out, v);
		return true;
	}
	if (in) {
		for (const char *p = v; *p; p++) {
			if (*p == '\\' || *p == in)
				sb_addc(out, '\\');
			if (*p == '\n')
				sb_adds(out, "\\n");
			else if (*p == '\r')
				sb_adds(out, "\\r");
			else
				sb_addc(out, *p);
		}
		return true;
	}
	if (!promql_token(v)) {
		*error = xasprintf("${%s} is outside a quoted string of the query and its value is not a "
		                   "number, a duration or a name: quote it (\"${%s}\")", name, name);
		return false;
	}
	sb_adds(out, v);
	return true;
}

/* Appends the value v of ${name}, quoted for its place; rest is the text after it. */
static bool splice_value(struct strbuf *out, enum vars_quote quote, const char *v, const char *rest,
                   const char *name, char **error)
{
	if (quote == VARS_JSON) {
		cJSON *str = cJSON_CreateString(v);
		char *q = cJSON_PrintUnformatted(str);
		size_t ql = strlen(q);
		sb_add(out, q + 1, ql - 2); /* without the quotes */
		cJSON_free(q);
		cJSON_Delete(str);
		return true;
	}
	if (quote == VARS_PLAIN || out->len == 0) { /* at the start: the structure itself */
		sb_adds(out, v);
		return true;
	}
	if (quote == VARS_URL) {
		url_component(out, v);
		return true;
	}
	if (quote == VARS_CONN)
		return splice_conn(out, v, rest, name, error);
	return splice_promql(out, v, name, error);
}

/* vars_get masked for showing: a captured window at its cut ends too. */
char *vars_shown(struct engine *e, const struct eng_step *s, const char *name)
{
	struct capture *c = cap_find(e, name);
	if (c) {
		struct rbc_value *m = value_masked(c->value, e->mask);
		char *t = value_to_text(m);
		value_free(m);
		return t;
	}
	char *v = vars_get(e, s, name);
	char *m = mask_text(e->mask, v);
	free(v);
	return m;
}

/* The value of ${name} masked for showing (a captured window at its cut
   ends too): a new string. */
static char *masked_value(struct engine *e, const struct mask *mask, const char *name,
                          const char *val)
{
	struct capture *c = cap_find(e, name);
	unsigned cut = c && c->value->type == VALUE_STR ? c->value->u.str.cut : 0;
	return mask_text_cut(mask, val, strlen(val), cut, NULL, NULL);
}

/*
 * Expands ${NAME} and ${env:NAME} in text, each value spliced as quote says
 * (VARS_JSON: the text is JSON and the values go inside its strings,
 * escaped). keep_unknown: an unset name stays as written (titles before
 * their capture); else it is an error. mask (may be NULL): each value put
 * in is masked first; the text around it is the runbook's own and stays.
 */
static bool expand_depth(struct engine *e, const struct eng_step *s, const char *text,
                         enum vars_quote quote, bool keep_unknown, const struct mask *mask,
                         struct strbuf *out, char **error, int depth)
{
	const char *p = text;
	for (;;) {
		const char *d = strstr(p, "${");
		if (!d) {
			sb_adds(out, p);
			return true;
		}
		const char *end = strchr(d + 2, '}');
		if (!end) {
			sb_adds(out, p);
			return true;
		}
		sb_add(out, p, (size_t)(d - p));
		char *name = xstrndup(d + 2, (size_t)(end - d - 2));
		const char *val = NULL;
		bool from_rb = false;
		if (strncmp(name, "env:", 4) == 0)
			val = getenv(name + 4);
		else
			val = vars_raw(e, s, name, &from_rb);
		if (!val) {
			if (keep_unknown) {
				sb_add(out, d, (size_t)(end + 1 - d));
			} else {
				if (strncmp(name, "env:", 4) == 0)
					*error = xasprintf("environment variable %s is not set", name + 4);
				else if (vars_is_secret(e, s, name))
					*error = xasprintf("secret %s is not set (export it in the environment)", name);
				else
					*error = xasprintf("variable %s is not set (give it with --var %s=…)", name, name);
				free(name);
				return false;
			}
		} else if (from_rb && strstr(val, "${")) {
			if (depth >= VARS_MAX_DEPTH) {
				*error = xasprintf("variable %s refers to itself through ${…}", name);
				free(name);
				return false;
			}
			bool ok;
			if (out->len == 0 && quote != VARS_PLAIN && quote != VARS_JSON) {
				/* The runbook's own text at the start: its variables
				   are spliced as if it were written here. */
				ok = expand_depth(e, s, val, quote, keep_unknown, mask, out, error, depth + 1);
			} else {
				struct strbuf inner = {0};
				ok = expand_depth(e, s, val, VARS_PLAIN, keep_unknown, mask, &inner, error, depth + 1) &&
				     splice_value(out, quote, sb_borrow(&inner), end + 1, name, error);
				sb_free(&inner);
			}
			if (!ok) {
				free(name);
				return false;
			}
		} else {
			char *shown = mask ? masked_value(e, mask, name, val) : NULL;
			bool ok = splice_value(out, quote, shown ? shown : val, end + 1, name, error);
			free(shown);
			if (!ok) {
				free(name);
				return false;
			}
		}
		free(name);
		p = end + 1;
		if (out->len > VARS_MAX_LEN) {
			*error = xasprintf("the text expands to more than %d bytes (variables built from variables)",
			                   VARS_MAX_LEN);
			return false;
		}
	}
}

bool vars_expand(struct engine *e, const struct eng_step *s, const char *text, enum vars_quote quote,
                 char **out, char **error)
{
	*out = NULL;
	*error = NULL;
	if (!text)
		return true;
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	if (!expand_depth(e, s, text, quote, false, NULL, &sb, error, 0)) {
		sb_free(&sb);
		return false;
	}
	*out = sb_take(&sb);
	return true;
}

char *vars_display(struct engine *e, const struct eng_step *s, const char *text)
{
	if (!text)
		return NULL;
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	char *err = NULL;
	if (!expand_depth(e, s, text, VARS_PLAIN, true, e->mask, &sb, &err, 0)) {
		free(err);
		sb_free(&sb);
		return xstrdup(text);
	}
	return sb_take(&sb);
}

/* Every variable the step can see, by precedence, as environment entries. */
void vars_env(struct engine *e, const struct eng_step *s, struct rb_kv *env)
{
	if (s && s->rb)
		for (size_t i = 0; i < s->rb->vars.n; i++) {
			char *v = NULL, *err = NULL;
			if (vars_expand(e, s, s->rb->vars.vals[i], VARS_PLAIN, &v, &err))
				rb_kv_set(env, s->rb->vars.keys[i], v);
			free(v);
			free(err);
		}
	for (size_t i = 0; i < e->secrets.n; i++)
		rb_kv_set(env, e->secrets.keys[i], e->secrets.vals[i]);
	for (size_t i = 0; i < e->vars.n; i++)
		rb_kv_set(env, e->vars.keys[i], e->vars.vals[i]);
	for (size_t i = 0; i < e->ncaps; i++)
		rb_kv_set(env, e->caps[i].name, e->caps[i].text);
	for (const struct eng_step *p = s; p; p = p->parent) {
		const struct node *n = (const struct node *)p;
		if (n->loop_var) /* the innermost binding of the name */
			rb_kv_set(env, n->loop_var, loop_bound(s, n->loop_var));
		for (size_t i = 0; i < n->nscope; i++)
			rb_kv_set(env, n->scope[i].name, loop_bound(s, n->scope[i].name));
	}
}

/* The step's own env (run/nagios "env"), values expanded, on top. */
bool vars_env_add_step(struct engine *e, const struct eng_step *s, struct rb_kv *env,
                       char **error)
{
	const struct probe_ops *kind = probe_ops_for(s->def->action);
	const struct rb_kv *own = kind && kind->step_env ? kind->step_env(s->def) : NULL;
	if (!own)
		return true;
	for (size_t i = 0; i < own->n; i++) {
		char *v = NULL;
		if (!vars_expand(e, s, own->vals[i], VARS_PLAIN, &v, error))
			return false;
		rb_kv_set(env, own->keys[i], v);
		free(v);
	}
	return true;
}

/* A capture: replaces an earlier value of the name; a secret's value is masked from now on. */
void vars_capture(struct engine *e, const char *name, struct rbc_value *take)
{
	capture_put(&e->caps, &e->ncaps, &e->capcaps, cap_find(e, name), name, take);
}

/*
 * SEVERITY and SEVERITY_NAME (docs/runbook-format.md, "Variables the run
 * sets") from an incident event that sets the level: a declaration or a
 * change of severity, `to` naming a level of the first runbook.
 */
void vars_severity(struct engine *e, const cJSON *detail)
{
	const char *what = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(detail, "what"));
	const char *to = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(detail, "to"));
	if (!what || !to || !e->nnodes || (strcmp(what, "declared") != 0 && strcmp(what, "severity") != 0))
		return;
	const struct runbook *rb = e->nodes[0]->rb;
	for (size_t i = 0; rb && i < rb->nseverities; i++) {
		const struct rb_severity *sv = &rb->severities[i];
		if (strcmp(sv->id, to) != 0)
			continue;
		vars_capture(e, "SEVERITY", value_strz_new(sv->id));
		vars_capture(e, "SEVERITY_NAME", value_strz_new(sv->name ? sv->name : sv->id));
		return;
	}
}

/* vars.NAME for expressions: the text, lent until vars_scratch_release. */
/* A list variable's text as expressions read it (docs/runbook-format.md,
   "Typed variables"): a JSON array as its items (numbers stay numbers),
   else its comma- or whitespace-separated items as texts; NULL when the
   text is no list (it is then read as text). */
static struct rbc_value *list_value(const char *text)
{
	const char *p = text;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '[') {
		cJSON *j = cJSON_Parse(text);
		struct rbc_value *v = cJSON_IsArray(j) ? value_from_json(j) : NULL;
		cJSON_Delete(j);
		return v;
	}
	char **items = NULL, *why = NULL;
	long n = rb_list_split(text, &items, &why);
	free(why);
	if (n < 0)
		return NULL;
	struct rbc_value *v = value_list_new();
	for (long i = 0; i < n; i++) {
		value_list_push_take(v, value_strz_new(items[i]));
		free(items[i]);
	}
	free(items);
	return v;
}

static const struct rbc_value *var_lookup(const char *name, void *ud)
{
	struct engine *e = ud;
	const struct rbc_value *bv = NULL;
	const char *bt = bound(e->expr_step, name, &bv);
	if (bv)
		return bv;
	struct capture *cap = bt ? NULL : cap_find(e, name);
	if (cap)
		return cap->value;
	bool from_rb;
	const char *raw = vars_raw(e, e->expr_step, name, &from_rb);
	if (!raw)
		return NULL;
	char *text = NULL, *err = NULL;
	if (from_rb && strstr(raw, "${")) {
		if (!vars_expand(e, e->expr_step, raw, VARS_PLAIN, &text, &err)) {
			free(err);
			text = xstrdup(raw);
		}
	} else {
		text = xstrdup(raw);
	}
	const struct runbook *rb = e->expr_step ? e->expr_step->rb : NULL;
	const struct rb_vardecl *decl = rb ? runbook_vardecl(rb, name) : NULL;
	struct rbc_value *v = decl && decl->type == RB_VAR_LIST ? list_value(text) : NULL;
	if (v)
		free(text);
	else
		v = value_str_take(text, strlen(text));
	xgrow(&e->scratch, &e->capscratch, e->nscratch + 1, sizeof *e->scratch);
	e->scratch[e->nscratch++] = v;
	return v;
}

/* Sets env's var lookup for step s (samples left to the caller). */
void vars_env_for_expr(struct engine *e, const struct eng_step *s, struct expr_env *env)
{
	e->expr_step = s;
	env->var = var_lookup;
	env->ud = e;
	env->mask = e->mask;
}

void vars_scratch_release(struct engine *e)
{
	for (size_t i = 0; i < e->nscratch; i++)
		value_free(e->scratch[i]);
	e->nscratch = 0;
}
