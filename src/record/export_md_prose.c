/*
 * export_md_prose.c — the deployment log's prose (docs/journal.md,
 * exports): a runbook's description and links under its phase's heading,
 * and the steps that have a description or links, listed under its table.
 * Text is the record's, as data: descriptions and titles through text_md,
 * a url as a link destination in <…> with every byte that could end it or
 * mean something there percent-encoded; a url that is not http(s) (a
 * variable expanded to one) is written as text, never as a link.
 */
#include <string.h>
#include <strings.h>

#include "rbc/text.h"
#include "rbc/util.h"

#include "export_md_prose.h"
#include "export_model.h"

/* url as a Markdown link destination: <…>, nothing of it able to close it. */
static void md_url(struct strbuf *sb, const char *url)
{
	sb_addc(sb, '<');
	for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
		uint32_t cp = 0;
		size_t l = *p >= 0x80 ? utf8_decode((const char *)p, strlen((const char *)p), &cp) : 0;
		if (l && utf8_is_control(cp)) { /* C1, a bidirectional control */
			for (size_t k = 0; k < l; k++)
				sb_addf(sb, "%%%02X", p[k]);
			p += l - 1;
		} else if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '\\') {
			sb_addf(sb, "%%%02X", *p);
		} else {
			sb_addc(sb, (char)*p);
		}
	}
	sb_addc(sb, '>');
}

/* The links of o, ", "-separated: [title](<url>), or "title (url)" as text. */
static void md_links(struct strbuf *sb, const cJSON *o)
{
	const cJSON *l;
	bool first = true;
	cJSON_ArrayForEach(l, export_get(o, "links"))
	{
		const char *title = export_str(l, "title"), *url = export_str(l, "url");
		if (!title || !url)
			continue;
		sb_adds(sb, first ? "" : ", ");
		first = false;
		if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
			sb_adds(sb, "[");
			text_md(sb, title);
			sb_adds(sb, "](");
			md_url(sb, url);
			sb_adds(sb, ")");
		} else {
			text_md(sb, title);
			sb_adds(sb, " (");
			text_md(sb, url);
			sb_adds(sb, ")");
		}
	}
}

void export_md_prose_runbook(struct strbuf *sb, const cJSON *phase)
{
	const char *d = phase ? export_str(phase, "description") : NULL;
	if (d && *d) {
		text_md_block(sb, d);
		sb_adds(sb, "\n\n");
	}
	if (phase && cJSON_GetArraySize(export_get(phase, "links")) > 0) {
		sb_adds(sb, "Links: ");
		md_links(sb, phase);
		sb_adds(sb, "\n\n");
	}
}

void export_md_prose_steps(struct strbuf *sb, const cJSON *steps, const char *rid)
{
	const cJSON *s;
	bool any = false;
	cJSON_ArrayForEach(s, steps)
	{
		if (export_get(s, "phase") && cJSON_IsTrue(export_get(s, "phase")))
			continue;
		const char *runbook = export_str(s, "runbook");
		const char *d = export_str(s, "description");
		bool links = cJSON_GetArraySize(export_get(s, "links")) > 0;
		if (!runbook || strcmp(runbook, rid) != 0 || (!(d && *d) && !links))
			continue;
		if (!any)
			sb_adds(sb, "\n");
		any = true;
		sb_adds(sb, "- ");
		text_md(sb, export_str(s, "number") ? export_str(s, "number") : export_str(s, "id"));
		sb_adds(sb, " ");
		text_md(sb, export_str(s, "title") ? export_str(s, "title") : export_str(s, "id"));
		if (d && *d) {
			sb_adds(sb, " — ");
			text_md(sb, d);
		}
		if (links) {
			sb_adds(sb, " — links: ");
			md_links(sb, s);
		}
		sb_adds(sb, "\n");
	}
}
