/*
 * export_md_prose.h — what export_md.c uses of export_md_prose.c: the
 * descriptions and links of the replayed run (export_model.h) in Markdown.
 */
#ifndef RBC_RECORD_EXPORT_MD_PROSE_H
#define RBC_RECORD_EXPORT_MD_PROSE_H

#include <cjson/cJSON.h>

#include "rbc/util.h"

/* The phase's (its runbook's) description and "Links: …", each a paragraph. */
void export_md_prose_runbook(struct strbuf *sb, const cJSON *phase);
/* A list of runbook rid's steps that have a description or links. */
void export_md_prose_steps(struct strbuf *sb, const cJSON *steps, const char *rid);

#endif
