/*
 * outbuf.h — the newest lines of a step's output, in bounded memory.
 *
 * Bytes go in as they come from a command (any chunking, two streams);
 * complete lines come out, newest first. At most OUTBUF_LINES lines and
 * OUTBUF_BYTES bytes are kept (the oldest give way), a line is cut at
 * OUTBUF_LINE bytes, and `total` counts every line ever seen, so
 * total - n is how many are only on disk. No allocation per line: one byte
 * ring and one index ring, allocated at the first line.
 *
 * Carriage returns are read the way a terminal shows them: "50%\r100%" is
 * the line "100%", and a CRLF ending is a plain ending.
 */
#ifndef RBC_OUTBUF_H
#define RBC_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rbc/util.h"

#define OUTBUF_LINES 2000          /* lines kept */
#define OUTBUF_LINE 2048           /* bytes kept of one line */
#define OUTBUF_BYTES (512 * 1024)  /* bytes kept, NULs included */

struct outbuf_line {
	uint32_t off, len;             /* in buf; len without the NUL */
	uint8_t stream;                /* the caller's stream number */
};

struct outbuf {
	char *buf;                     /* OUTBUF_BYTES: each line NUL-terminated, never split */
	struct outbuf_line *idx;       /* ring of OUTBUF_LINES, oldest at head */
	size_t head, n, wpos;
	unsigned long long total;      /* complete lines received */
	struct strbuf part[2];         /* the unfinished line of streams 1 and 2 */
};

/* Adds bytes of stream 1 or 2 (stdout, stderr). */
void outbuf_add(struct outbuf *o, int stream, const char *data, size_t len);
/* Ends the unfinished lines (the command is done): they become lines. */
void outbuf_flush(struct outbuf *o);
/* The line `back` lines before the newest (0: the newest), NUL-terminated,
   or NULL past the oldest kept; its stream in *stream when not NULL. */
const char *outbuf_line(const struct outbuf *o, size_t back, int *stream);
/* Frees everything; the counts restart at zero. */
void outbuf_clear(struct outbuf *o);

#endif
