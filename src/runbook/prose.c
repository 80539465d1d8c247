/*
 * prose.c — what the loader reads of the prose an operator sees: the
 * `description` and `links` of a runbook and of any step
 * (docs/runbook-format.md, "Descriptions and links"), and the step-level
 * keys a probe kind owns (`tty`, `stdin` of a command step), handed to the
 * kind's step_key once the step's action is loaded.
 *
 * A link's url must be http:// or https:// when written literally; one
 * that starts with ${NAME} is checked again once expanded, where it is shown
 * (the console and the exports link only an http(s) url). Text is data:
 * a url with a control character or a blank is refused here.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rbc/keys.h"
#include "rbc/probe.h"
#include "rbc/util.h"

#include "prose.h"

/* The most links one runbook or step may list. */
#define PROSE_MAX_LINKS 100

bool prose_url_scheme_ok(const char *url)
{
	return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

bool prose_url_chars_ok(const char *url)
{
	for (const unsigned char *p = (const unsigned char *)url; p && *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* The "title" of a link. */
static void link_title(struct keys_reader *r, const cJSON *m, void *t)
{
	struct rb_link *l = t;
	free(l->title);
	l->title = keys_xtext(r, m);
}

/* The "url" of a link: http(s), no blank or control character. */
static void link_url(struct keys_reader *r, const cJSON *m, void *t)
{
	struct rb_link *l = t;
	char *u = keys_xtext(r, m);
	if (!u)
		return;
	if (!prose_url_chars_ok(u)) {
		keys_err(r, m, "a link's url has a blank or a control character; write it percent-encoded (%%20)");
	} else if (strncmp(u, "${", 2) != 0 && !prose_url_scheme_ok(u)) {
		const char *colon = strchr(u, ':');
		if (colon && colon - u < 16)
			keys_err(r, m, "a link's url must start with http:// or https://; \"%.*s:\" is refused",
			         (int)(colon - u), u);
		else
			keys_err(r, m, "a link's url must start with http:// or https://");
	} else {
		free(l->url);
		l->url = u;
		return;
	}
	free(u);
}

static const struct keys_member link_keys[] = {{"title", link_title}, {"url", link_url}};

bool prose_links(struct keys_reader *r, const cJSON *m, struct rb_link **links, size_t *n)
{
	if (!keys_want_array(r, m, false))
		return false;
	size_t count = (size_t)cJSON_GetArraySize(m);
	if (count > PROSE_MAX_LINKS) {
		keys_err(r, m, "at most %d links, got %zu", PROSE_MAX_LINKS, count);
		return false;
	}
	rb_links_free(*links, *n);
	*links = count ? xcalloc(count, sizeof **links) : NULL;
	*n = 0;
	size_t i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(r, i);
		if (keys_want_object(r, c, "a link: an object with \"title\" and \"url\"")) {
			struct rb_link l = {0};
			keys_walk(r, c, link_keys, RBC_ARRAY_LEN(link_keys), &l);
			keys_require(r, c, "title", NULL);
			keys_require(r, c, "url", NULL);
			if (l.title && l.url)
				(*links)[(*n)++] = l;
			else
				rb_links_free_one(&l);
		}
		keys_pop(r, old);
	}
	return true;
}

char *prose_description(struct keys_reader *r, const cJSON *m)
{
	if (!keys_want_string(r, m))
		return NULL;
	keys_scan_prose_refs(r, m);
	return xstrdup(m->valuestring);
}

/* The action keys, by action (the loader's own table is load.c's). */
static const char *const action_keys[] = {
#define X(e, key, desc) key,
	RB_ACTIONS(X)
#undef X
};

/* The step-level keys a kind owns, in the order the kinds may take them. */
static const char *const kind_keys[] = {"tty", "stdin"};

void prose_kind_keys(struct keys_reader *r, const cJSON *n, struct rb_step *s)
{
	const struct probe_ops *ops = probe_ops_for(s->action);
	for (size_t i = 0; i < RBC_ARRAY_LEN(kind_keys); i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(n, kind_keys[i]);
		if (!m)
			continue;
		size_t old = keys_push_key(r, kind_keys[i]);
		if (ops && ops->step_key && ops->step_key(r, m, s)) {
			/* taken */
		} else if (strcmp(kind_keys[i], "tty") == 0) {
			keys_err_key(r, m, "\"tty\" applies only to a run step (this one is \"%s\")",
			             action_keys[s->action]);
		} else {
			keys_err_key(r, m, "\"%s\" applies only to a run or nagios step (this one is \"%s\")",
			             kind_keys[i], action_keys[s->action]);
		}
		keys_pop(r, old);
	}
	const cJSON *tty = cJSON_GetObjectItemCaseSensitive(n, "tty");
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(n, "stdin");
	if (cJSON_IsTrue(tty) && in && s->action == RB_RUN) {
		size_t old = keys_push_key(r, "stdin");
		keys_err_key(r, in, "a step with \"tty\": true reads the terminal; \"stdin\" cannot be fed to it");
		keys_pop(r, old);
	}
}

void rb_links_free_one(struct rb_link *l)
{
	free(l->title);
	free(l->url);
	l->title = l->url = NULL;
}

void rb_links_free(struct rb_link *links, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rb_links_free_one(&links[i]);
	free(links);
}
