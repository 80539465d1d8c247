/*
 * md_write.c — a JSON runbook written as Markdown that reads back to the
 * same document (docs/markdown-runbooks.md, "Converting").
 *
 * Groups become headings, commands ```sh blocks with {…} attributes, other
 * steps task items; whatever has no faithful Markdown form (objects, lists,
 * text over several lines, a group after a step, a seventh heading level)
 * goes into an <!-- rbc {json} --> comment before its block, so any key,
 * present or future, survives the round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/markdown.h"
#include "rbc/util.h"

/* Text that is one line with no leading or trailing space. */
static bool one_line(const char *s)
{
	size_t n = strlen(s);
	if (!n || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return !strstr(s, "<!--") && !strstr(s, "-->");
}

/* A title that reads back from a heading unchanged. */
static bool heading_safe(const char *s)
{
	size_t n = strlen(s);
	return one_line(s) && s[n - 1] != '#' && s[n - 1] != '}' && s[0] != '=' && s[0] != '-';
}

/* A task item's text that reads back unchanged. */
static bool item_safe(const char *s)
{
	return one_line(s) && s[0] != '[' && s[0] != '#' && s[0] != '>' && s[0] != '`' && s[0] != '~' &&
	       s[0] != '<' && s[0] != '|' && !strchr("-*+=", s[0]) && s[strlen(s) - 1] != '\\';
}

/* Prose that reads back as the same paragraphs (docs' descriptions). */
static bool prose_safe(const char *s)
{
	size_t n = strlen(s);
	if (!n || strchr(" \t\n", s[0]) || strchr(" \t\n", s[n - 1]) || strstr(s, "\n\n\n") || strchr(s, '\r'))
		return false;
	if (strstr(s, "<!--") || strstr(s, "-->") || strstr(s, "\n\n "))
		return false;
	for (const char *l = s; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (*l == '\n')
			continue;
		if (strchr(" \t#>-*+=_|<`~[:", *l))
			return false;
		/* "1." or "1)" starts an ordered list. */
		const char *dg = l;
		while (*dg >= '0' && *dg <= '9')
			dg++;
		if (dg > l && (*dg == '.' || *dg == ')'))
			return false;
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		if (len && (l[len - 1] == ' ' || l[len - 1] == '\\' || l[len - 1] == ':'))
			return false;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)l[i] < 0x20 && l[i] != '\t')
				return false;
	}
	return true;
}

/* A name the attribute parser reads back (md_attr.c). */
static bool attr_key(const char *k)
{
	if (!k || !((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_'))
		return false;
	for (const char *c = k; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("_-.:", *c)))
			return false;
	return true;
}

/* A value an attribute carries faithfully: one-line text, a boolean, a finite number. */
static bool attr_value_ok(const cJSON *v)
{
	if (cJSON_IsBool(v))
		return true;
	if (cJSON_IsNumber(v)) {
		char buf[64];
		snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
		return strtod(buf, NULL) == v->valuedouble && !strchr(buf, 'n') && !strchr(buf, 'i');
	}
	if (!cJSON_IsString(v))
		return false;
	for (const char *c = v->valuestring; *c; c++)
		if ((unsigned char)*c < 0x20)
			return false;
	/* In a heading, "<!--" would start inline HTML. */
	return !strstr(v->valuestring, "<!--");
}

/* Writes v as an attribute value: bare for booleans and numbers, else quoted. */
static void add_attr_value(struct strbuf *sb, const cJSON *v)
{
	if (cJSON_IsBool(v)) {
		sb_adds(sb, cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsNumber(v)) {
		sb_addf(sb, "%.17g", v->valuedouble);
	} else {
		sb_addc(sb, '"');
		for (const char *c = v->valuestring; *c; c++) {
			if (*c == '"')
				sb_adds(sb, "\\\"");
			else if (*c == '\\' && (c[1] == '"' || c[1] == '\\' || !c[1]))
				sb_adds(sb, "\\\\");
			else
				sb_addc(sb, *c);
		}
		sb_addc(sb, '"');
	}
}

/* Writes obj as an rbc comment line (nothing when obj is empty). */
static void add_comment(struct strbuf *sb, const cJSON *obj)
{
	if (!obj || !obj->child)
		return;
	char *json = cJSON_PrintUnformatted(obj);
	sb_adds(sb, "<!-- rbc ");
	/* "-->" can only stand inside a string, where \u003e reads the same. */
	for (const char *c = json; *c; c++) {
		if (c[0] == '-' && c[1] == '-' && c[2] == '>') {
			sb_adds(sb, "--\\u003e");
			c += 2;
		} else {
			sb_addc(sb, *c);
		}
	}
	sb_adds(sb, " -->\n");
	free(json);
}

/* A copy of step's members except those named in skip (NULL-ended). */
static cJSON *keys_except(const cJSON *step, const char *const *skip)
{
	cJSON *o = cJSON_CreateObject();
	for (const cJSON *c = step->child; c; c = c->next) {
		bool skipped = false;
		for (size_t i = 0; skip[i] && !skipped; i++)
			skipped = strcmp(skip[i], c->string) == 0;
		if (!skipped)
			cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, true));
	}
	return o;
}

/* obj's member key when it is text, else NULL. */
static const char *text_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The longest run of c at the start of a line of s. */
static size_t longest_run(const char *s, char c)
{
	size_t best = 0;
	for (const char *l = s; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *p = l;
		while (*p == ' ')
			p++;
		size_t n = 0;
		while (p[n] == c)
			n++;
		if (n > best)
			best = n;
	}
	return best;
}

static void write_steps(struct strbuf *sb, const cJSON *steps, int level);

/* Text a code block holds faithfully: not empty, no \r, no final newline. */
static bool block_text_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;
	return n && t[n - 1] != '\n' && !strchr(t, '\r') && t[0] != '\n';
}

/* A one-line value with no space in it (a URL, a method). */
static bool token_ok(const char *t)
{
	if (!t || !*t)
		return false;
	for (const char *c = t; *c; c++)
		if ((unsigned char)*c <= 0x20)
			return false;
	return true;
}

/* True when obj has exactly the string members named (NULL-ended), each present. */
static bool only_strings(const cJSON *obj, const char *const *keys)
{
	if (!cJSON_IsObject(obj))
		return false;
	size_t n = 0;
	for (const cJSON *c = obj->child; c; c = c->next, n++) {
		bool known = false;
		for (size_t i = 0; keys[i] && !known; i++)
			known = strcmp(keys[i], c->string) == 0;
		if (!known || !cJSON_IsString(c))
			return false;
	}
	size_t want = 0;
	while (keys[want])
		want++;
	return n == want;
}

/* An http action as a request: "METHOD URL", header lines, a blank line, the body. */
static char *http_text(const cJSON *h)
{
	if (!cJSON_IsObject(h))
		return NULL;
	const char *url = NULL, *method = NULL, *body = NULL;
	const cJSON *headers = NULL;
	for (const cJSON *c = h->child; c; c = c->next) {
		if (strcmp(c->string, "url") == 0 && cJSON_IsString(c) && token_ok(c->valuestring))
			url = c->valuestring;
		else if (strcmp(c->string, "method") == 0 && cJSON_IsString(c) && token_ok(c->valuestring))
			method = c->valuestring;
		else if (strcmp(c->string, "body") == 0 && cJSON_IsString(c) && block_text_ok(c->valuestring))
			body = c->valuestring;
		else if (strcmp(c->string, "headers") == 0 && cJSON_IsObject(c) && c->child)
			headers = c;
		else
			return NULL;
	}
	if (!url)
		return NULL;
	struct strbuf sb = {0};
	if (method)
		sb_addf(&sb, "%s %s", method, url);
	else
		sb_adds(&sb, url);
	for (const cJSON *c = headers ? headers->child : NULL; c; c = c->next) {
		const char *v = cJSON_IsString(c) ? c->valuestring : NULL;
		if (!v || !token_ok(c->string) || strchr(c->string, ':') || !one_line(v)) {
			sb_free(&sb);
			return NULL;
		}
		sb_addf(&sb, "\n%s: %s", c->string, v);
	}
	if (body)
		sb_addf(&sb, "\n\n%s", body);
	return sb_take(&sb);
}

/*
 * A probe step as a code block with its keys as {…} attributes: run as sh,
 * sql {conn, query} as sql, prometheus {url, query} as promql, a plain http
 * request as http. False when the step has no such faithful form.
 */
static bool write_block(struct strbuf *sb, const cJSON *step)
{
	static const char *const sql_keys[] = {"conn", "query", NULL}, *const prom_keys[] = {"url", "query", NULL};
	const char *lang = NULL, *action = NULL, *own = NULL, *own_value = NULL;
	char *body = NULL;
	const cJSON *v;
	if (!text_of(step, "title"))
		return false;
	if (block_text_ok(text_of(step, "run"))) {
		lang = "sh", action = "run", body = xstrdup(text_of(step, "run"));
	} else if (only_strings(v = cJSON_GetObjectItemCaseSensitive(step, "sql"), sql_keys) &&
	           block_text_ok(text_of(v, "query"))) {
		lang = "sql", action = "sql", own = "conn", body = xstrdup(text_of(v, "query"));
		own_value = strcmp(text_of(v, "conn"), "${DATABASE_URL}") ? text_of(v, "conn") : NULL;
	} else if (only_strings(v = cJSON_GetObjectItemCaseSensitive(step, "prometheus"), prom_keys) &&
	           block_text_ok(text_of(v, "query"))) {
		lang = "promql", action = "prometheus", own = "url", body = xstrdup(text_of(v, "query"));
		own_value = strcmp(text_of(v, "url"), "${PROMETHEUS_URL}") ? text_of(v, "url") : NULL;
	} else if ((body = http_text(cJSON_GetObjectItemCaseSensitive(step, "http"))) != NULL) {
		lang = "http", action = "http";
	} else {
		return false;
	}
	struct strbuf attrs = {0};
	cJSON *rest = cJSON_CreateObject();
	sb_adds(&attrs, "{");
	if (own_value) {
		cJSON *ov = cJSON_CreateString(own_value);
		if (attr_value_ok(ov)) {
			sb_addf(&attrs, "%s=", own);
			add_attr_value(&attrs, ov);
		}
		cJSON_Delete(ov);
		if (attrs.len == 1) { /* a value with no attribute form: the whole action in the comment */
			free(body);
			sb_free(&attrs);
			cJSON_Delete(rest);
			return false;
		}
	}
	/* The id, then the title (so the block is annotated, never the implicit
	   confirm), then the rest. */
	for (int pass = 0; pass < 3; pass++) {
		for (const cJSON *c = step->child; c; c = c->next) {
			int want = strcmp(c->string, "id") == 0 ? 0 : strcmp(c->string, "title") == 0 ? 1 : 2;
			if (strcmp(c->string, action) == 0 || want != pass)
				continue;
			if (pass == 0 && cJSON_IsString(c) && token_ok(c->valuestring) && !strpbrk(c->valuestring, "}\"{")) {
				sb_addf(&attrs, "%s#%s", attrs.len > 1 ? " " : "", c->valuestring);
			} else if (attr_key(c->string) && attr_value_ok(c)) {
				sb_addf(&attrs, "%s%s=", attrs.len > 1 ? " " : "", c->string);
				add_attr_value(&attrs, c);
			} else {
				cJSON_AddItemToObject(rest, c->string, cJSON_Duplicate(c, true));
			}
		}
	}
	sb_adds(&attrs, "}");
	char fc = strchr(attrs.s, '`') ? '~' : '`';
	size_t flen = longest_run(body, fc) + 1;
	if (flen < 3)
		flen = 3;
	if (flen > 255) {
		/* cmark-gfm keeps a fence's length in a byte: such a block is kept in the comment. */
		free(body);
		sb_free(&attrs);
		cJSON_Delete(rest);
		return false;
	}
	add_comment(sb, rest);
	for (size_t i = 0; i < flen; i++)
		sb_addc(sb, fc);
	sb_addf(sb, "%s %s\n%s\n", lang, attrs.s, body);
	for (size_t i = 0; i < flen; i++)
		sb_addc(sb, fc);
	sb_adds(sb, "\n\n");
	sb_free(&attrs);
	cJSON_Delete(rest);
	free(body);
	return true;
}

/* Any step as a task item, its other keys in a comment. */
static void write_item(struct strbuf *sb, const cJSON *step)
{
	const char *title = text_of(step, "title");
	const char *manual = text_of(step, "manual");
	const char *note = text_of(step, MD_PROSE_KEY);
	bool title_ok = title && item_safe(title);
	bool note_ok = note && one_line(note) && prose_safe(note);
	const char *skip[4] = {NULL, NULL, NULL, NULL};
	size_t k = 0;
	if (title_ok)
		skip[k++] = "title";
	if (title_ok && manual && strcmp(manual, title) == 0)
		skip[k++] = "manual";
	if (note_ok)
		skip[k++] = MD_PROSE_KEY;
	cJSON *rest = keys_except(step, skip);
	add_comment(sb, rest);
	cJSON_Delete(rest);
	sb_addf(sb, "- [ ] %s\n", title_ok ? title : "step");
	if (note_ok)
		sb_addf(sb, "\n  %s\n", note);
	sb_adds(sb, "\n");
}

/* A group as a heading of level, its steps under it; one-line keys as {…} attributes. */
static void write_heading(struct strbuf *sb, const cJSON *g, int level)
{
	const char *desc = text_of(g, MD_PROSE_KEY);
	bool desc_ok = desc && prose_safe(desc);
	const char *title = text_of(g, "title");
	struct strbuf attrs = {0};
	cJSON *rest = cJSON_CreateObject();
	for (const cJSON *c = g->child; c; c = c->next) {
		if (strcmp(c->string, "title") == 0 || strcmp(c->string, "steps") == 0 ||
		    (desc_ok && strcmp(c->string, MD_PROSE_KEY) == 0))
			continue;
		/* The reader finds the attributes at the last " {": no other may follow. */
		bool ok = attr_key(c->string) && attr_value_ok(c) && !strchr(title, '{') &&
		          !(cJSON_IsString(c) && strchr(c->valuestring, '{'));
		if (!ok) {
			cJSON_AddItemToObject(rest, c->string, cJSON_Duplicate(c, true));
			continue;
		}
		sb_adds(&attrs, attrs.len ? " " : " {");
		if (strcmp(c->string, "id") == 0 && cJSON_IsString(c) && *c->valuestring &&
		    !strpbrk(c->valuestring, " \t}\"")) {
			sb_addf(&attrs, "#%s", c->valuestring);
		} else {
			sb_addf(&attrs, "%s=", c->string);
			add_attr_value(&attrs, c);
		}
	}
	if (attrs.len)
		sb_addc(&attrs, '}');
	add_comment(sb, rest);
	cJSON_Delete(rest);
	for (int i = 0; i < level; i++)
		sb_addc(sb, '#');
	sb_addf(sb, " %s%s\n\n", title, attrs.len ? attrs.s : "");
	sb_free(&attrs);
	if (desc_ok)
		sb_addf(sb, "%s\n\n", desc);
	write_steps(sb, cJSON_GetObjectItemCaseSensitive(g, "steps"), level + 1);
}

/* True when step can be a heading: a group with a heading-safe title. */
static bool heading_group(const cJSON *step, int level)
{
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(step, "steps");
	const char *title = text_of(step, "title");
	return level <= 6 && cJSON_IsArray(steps) && steps->child && title && heading_safe(title);
}

/*
 * A heading's section runs to the next heading: a group can be one only
 * when no other kind of step follows it among its siblings.
 */
static void write_steps(struct strbuf *sb, const cJSON *steps, int level)
{
	const cJSON *last_plain = NULL;
	for (const cJSON *c = steps ? steps->child : NULL; c; c = c->next)
		if (!heading_group(c, level))
			last_plain = c;
	bool after = last_plain == NULL;
	for (const cJSON *c = steps ? steps->child : NULL; c; c = c->next) {
		if (after && heading_group(c, level))
			write_heading(sb, c, level);
		else if (!write_block(sb, c))
			write_item(sb, c);
		if (c == last_plain)
			after = true;
	}
}

char *md_write(const cJSON *root)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	const char *title = text_of(root, "title");
	const char *desc = text_of(root, "description");
	bool title_ok = title && heading_safe(title);
	bool desc_ok = desc && prose_safe(desc);
	const char *skip[] = {"steps", title_ok ? "title" : NULL, NULL, NULL};
	if (desc_ok)
		skip[title_ok ? 2 : 1] = "description";
	cJSON *rest = keys_except(root, skip);
	add_comment(&sb, rest);
	cJSON_Delete(rest);
	const char *id = text_of(root, "runbook");
	sb_addf(&sb, "\n# %s\n\n", title_ok ? title : id ? id : "runbook");
	if (desc_ok)
		sb_addf(&sb, "%s\n\n", desc);
	write_steps(&sb, cJSON_GetObjectItemCaseSensitive(root, "steps"), 2);
	while (sb.len > 1 && sb.s[sb.len - 1] == '\n' && sb.s[sb.len - 2] == '\n')
		sb.s[--sb.len] = '\0';
	return sb_take(&sb);
}
