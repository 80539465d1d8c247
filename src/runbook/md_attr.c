/*
 * md_attr.c — {…} attributes of a Markdown code block or heading, as Pandoc
 * and Runme write them (docs/markdown-runbooks.md, "Attributes"):
 * {#id .class key=value key="a value with \"quotes\""}. Inside double quotes
 * only \" and \\ are escapes; any other backslash stays, so a regular
 * expression is written as it is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/markdown.h"
#include "rbc/util.h"

/* A character of an attribute's name (the first: a letter or '_'). */
static bool is_key_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':'));
}

/* Space between attributes. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Sets the error; returns false. */
static bool attr_error(char **err, size_t *err_off, size_t off, const char *msg)
{
	*err = xstrdup(msg);
	*err_off = off;
	return false;
}

bool md_attrs_parse(const char *text, size_t start, size_t end, struct md_attr **out,
                    size_t *n, char **err, size_t *err_off)
{
	size_t i = start + 1, cap = 0;
	*out = NULL;
	*n = 0;
	for (;;) {
		while (i < end && is_space(text[i]))
			i++;
		if (i >= end)
			return attr_error(err, err_off, start, "attributes opened with '{' have no closing '}'");
		if (text[i] == '}') {
			i++;
			while (i < end && is_space(text[i]))
				i++;
			if (i < end)
				return attr_error(err, err_off, i, "unexpected text after the attributes' closing '}'");
			return true;
		}
		struct md_attr a = {.key_off = i};
		if (text[i] == '#' || text[i] == '.') {
			char sigil = text[i++];
			size_t from = i;
			while (i < end && !is_space(text[i]) && text[i] != '}')
				i++;
			if (i == from)
				return attr_error(err, err_off, a.key_off, sigil == '#' ? "'#' needs an id after it"
				                                                        : "'.' needs a class name after it");
			if (sigil == '.')
				continue; /* a class says nothing to rbc */
			a.key = xstrdup("id");
			a.text = true;
			a.value = xstrndup(text + from, i - from);
			a.val_off = from;
		} else {
			if (!is_key_char(text[i], true)) {
				char msg[96];
				if (text[i] == '"')
					snprintf(msg, sizeof msg, "a quoted value needs a key before it (key=\"…\")");
				else
					snprintf(msg, sizeof msg, "expected an attribute name (a letter), found '%c'", text[i]);
				return attr_error(err, err_off, i, msg);
			}
			size_t from = i;
			while (i < end && is_key_char(text[i], false))
				i++;
			a.key = xstrndup(text + from, i - from);
			if (i < end && text[i] == '=') {
				i++;
				a.val_off = i;
				if (i < end && text[i] == '"') {
					a.quoted = true;
					struct strbuf v = {0};
					sb_adds(&v, "");
					i++;
					for (;;) {
						if (i >= end) {
							sb_free(&v);
							free(a.key);
							return attr_error(err, err_off, a.val_off,
							                  "unterminated quoted value: no closing '\"' (write \\\" for a quote inside)");
						}
						if (text[i] == '"')
							break;
						if (text[i] == '\\' && i + 1 < end && (text[i + 1] == '"' || text[i + 1] == '\\'))
							i++;
						sb_addc(&v, text[i++]);
					}
					i++;
					a.value = sb_take(&v);
				} else {
					size_t vfrom = i;
					while (i < end && !is_space(text[i]) && text[i] != '}' && text[i] != '"')
						i++;
					if (i < end && text[i] == '"') {
						free(a.key);
						return attr_error(err, err_off, i, "a quote inside an unquoted value: quote the whole value (key=\"…\")");
					}
					if (i == vfrom) {
						free(a.key);
						return attr_error(err, err_off, a.key_off, "'=' needs a value after it (key=value)");
					}
					a.value = xstrndup(text + vfrom, i - vfrom);
				}
			}
			if (i < end && !is_space(text[i]) && text[i] != '}') {
				free(a.key);
				free(a.value);
				char msg[96];
				snprintf(msg, sizeof msg, "expected a space or '}' after an attribute, found '%c'", text[i]);
				return attr_error(err, err_off, i, msg);
			}
		}
		xgrow(out, &cap, *n + 1, sizeof **out);
		(*out)[(*n)++] = a;
	}
}

void md_attrs_free(struct md_attr *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}
