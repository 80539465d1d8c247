/*
 * outbuf.c — the newest lines of a step's output, in a byte ring and an
 * index ring (see outbuf.h).
 *
 * Lines are written one after the other around the byte ring; a line that
 * would cross its end starts again at offset 0. The bytes about to be
 * written therefore always hold the oldest lines, in order: they give way
 * from the head until the new line fits, so no line is ever overwritten
 * while indexed.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/outbuf.h"

void outbuf_clear(struct outbuf *o)
{
	free(o->buf);
	free(o->idx);
	sb_free(&o->part[0]);
	sb_free(&o->part[1]);
	*o = (struct outbuf){0};
}

/* What a terminal would show of a line: the text after its last carriage
   return that is followed by something; a final CR is dropped. */
static void shown_part(const char **text, size_t *len)
{
	while (*len && (*text)[*len - 1] == '\r')
		(*len)--;
	const char *cr = memrchr(*text, '\r', *len);
	if (cr) {
		*len -= (size_t)(cr + 1 - *text);
		*text = cr + 1;
	}
}

static void push(struct outbuf *o, int stream, const char *text, size_t len)
{
	if (!o->buf) {
		o->buf = xmalloc(OUTBUF_BYTES);
		o->idx = xcalloc(OUTBUF_LINES, sizeof *o->idx);
	}
	shown_part(&text, &len);
	if (len > OUTBUF_LINE)
		len = OUTBUF_LINE;
	if (o->wpos + len + 1 > OUTBUF_BYTES)
		o->wpos = 0;
	while (o->n) {
		const struct outbuf_line *h = &o->idx[o->head];
		bool full = o->n == OUTBUF_LINES;
		bool overlap = h->off < o->wpos + len + 1 && h->off + h->len + 1 > o->wpos;
		if (!full && !overlap)
			break;
		o->head = (o->head + 1) % OUTBUF_LINES;
		o->n--;
	}
	memcpy(o->buf + o->wpos, text, len);
	o->buf[o->wpos + len] = '\0';
	o->idx[(o->head + o->n) % OUTBUF_LINES] =
		(struct outbuf_line){(uint32_t)o->wpos, (uint32_t)len, (uint8_t)stream};
	o->n++;
	o->wpos += len + 1;
	o->total++;
}

void outbuf_add(struct outbuf *o, int stream, const char *data, size_t len)
{
	struct strbuf *part = &o->part[stream == 2];
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		if (nl && !part->len) {
			push(o, stream, data, take); /* a whole line: no copy on the way */
		} else {
			/* Keep what a line shows, however long it grows: at most a
			   line's worth after its last carriage return. */
			const char *cr = memrchr(data, '\r', take);
			if (cr && cr + 1 < data + take) {
				part->len = 0;
				take -= (size_t)(cr + 1 - data);
				len -= (size_t)(cr + 1 - data);
				data = cr + 1;
			}
			if (part->len && part->s[part->len - 1] == '\r' && take)
				part->len = 0; /* the text after a CR writes over the line */
			if (part->len < OUTBUF_LINE)
				sb_add(part, data, take < OUTBUF_LINE - part->len ? take : OUTBUF_LINE - part->len);
			if (!nl)
				break;
			push(o, stream, part->s ? part->s : "", part->len);
			part->len = 0;
			part->s[0] = '\0';
		}
		data = nl + 1;
		len -= take + 1;
	}
}

void outbuf_flush(struct outbuf *o)
{
	for (int i = 0; i < 2; i++) {
		struct strbuf *part = &o->part[i];
		if (!part->len)
			continue;
		push(o, i + 1, part->s, part->len);
		part->len = 0;
		part->s[0] = '\0';
	}
}

const char *outbuf_line(const struct outbuf *o, size_t back, int *stream)
{
	if (back >= o->n)
		return NULL;
	const struct outbuf_line *l = &o->idx[(o->head + o->n - 1 - back) % OUTBUF_LINES];
	if (stream)
		*stream = l->stream;
	return o->buf + l->off;
}
