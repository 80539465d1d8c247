/*
 * mask.h — secrets out of text: every occurrence of a secret's literal value
 * becomes "••••".
 *
 * A struct mask is the set of secret values of one run. Values can be added
 * while it is in use (a capture that names a secret adds its value); text
 * masked afterwards sees them. Empty values are ignored. Where two secrets
 * overlap, the longest match at the leftmost position wins, so a secret that
 * contains another is masked whole.
 *
 * A struct mask_stream masks a byte stream that arrives in chunks (a
 * command's output): a secret split across two chunks is still masked. It
 * holds back at most (longest secret − 1) bytes, the longest tail of what it
 * was fed that could be the start of a secret, until the next chunk or
 * mask_stream_flush decides. It keeps a borrowed pointer to its mask.
 */
#ifndef RBC_MASK_H
#define RBC_MASK_H

#include <stdbool.h>
#include <stddef.h>

#define MASK_TEXT "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2" /* •••• */

struct mask;

struct mask *mask_new(void);
void mask_free(struct mask *m);

/* A copy of m (NULL gives an empty mask): for another thread to use. */
struct mask *mask_copy(const struct mask *m);

/* Adds a secret value (copied). Adding a value twice, or "", does nothing. */
void mask_add(struct mask *m, const char *value);

/* Number of distinct secret values held. */
size_t mask_count(const struct mask *m);

/* True when s (len bytes) contains any secret. m may be NULL (false). */
bool mask_hits(const struct mask *m, const char *s, size_t len);

/*
 * A new NUL-terminated copy of s (len bytes) with every secret replaced by
 * MASK_TEXT; *hits (may be NULL) gets how many were replaced. m may be NULL
 * (a plain copy). Bytes are bytes: s may hold NULs and invalid UTF-8.
 */
char *mask_text_n(const struct mask *m, const char *s, size_t len, size_t *out_len,
                  size_t *hits);
/* The same for a NUL-terminated string; NULL gives NULL. */
char *mask_text(const struct mask *m, const char *s);

/*
 * Where a text is a window of a longer one (the last bytes a command printed,
 * a body cut at max_body), a secret may stand across the cut: only part of it
 * is in the window. MASK_CUT_HEAD says bytes were dropped before s,
 * MASK_CUT_TAIL after it. mask_text_cut masks as mask_text_n does and, at
 * each cut end, also the longest run of bytes that could be part of a secret
 * crossing that cut (a proper suffix of a secret at the head, a proper prefix
 * at the tail), however short. flags 0 is mask_text_n.
 */
enum { MASK_CUT_HEAD = 1, MASK_CUT_TAIL = 2 };
char *mask_text_cut(const struct mask *m, const char *s, size_t len, unsigned flags,
                    size_t *out_len, size_t *hits);

/*
 * True when any byte of s[from..to) belongs to a secret (s is len bytes,
 * a window when cut has MASK_CUT_* flags): a piece taken from there is
 * part of a secret even where it is too short to be found on its own.
 */
bool mask_covers(const struct mask *m, const char *s, size_t len, unsigned cut, size_t from,
                 size_t to);

/* A number from outside (a JSON number, a SQL integer) whose digits hold a
   secret this long or longer is masked: a PIN sent as a number. Shorter
   secrets ("1") leave numbers alone: they are rbc's structure too. */
#define MASK_NUMBER_MIN 4

/* True when s holds a secret at least minlen bytes long. */
bool mask_hits_long(const struct mask *m, const char *s, size_t len, size_t minlen);

/* The length of the shortest secret (0 when there is none). */
size_t mask_shortest(const struct mask *m);

struct mask_stream {
	const struct mask *mask;   /* borrowed; NULL: pass everything through */
	char *held;                /* bytes held back, not yet emitted */
	size_t nheld, capheld;
	size_t hits;               /* secrets replaced so far */
};

typedef void (*mask_emit_fn)(void *ud, const char *data, size_t len);

/* Starts a stream over m (which may be NULL). */
void mask_stream_init(struct mask_stream *ms, const struct mask *m);
/*
 * Feeds a chunk: emits (possibly in several calls, possibly none) every byte
 * that can no longer be part of a secret, masked. Order is preserved. With
 * no secrets (and nothing held) the chunk itself is emitted in one call,
 * uncopied. The output of feeds then a flush is what mask_text_n gives for
 * the whole input, as long as no secret was added meanwhile. emit must not
 * add to the mask nor use the stream.
 */
void mask_stream_feed(struct mask_stream *ms, const char *data, size_t len,
                      mask_emit_fn emit, void *ud);
/* Emits whatever is held back (end of stream). The stream can go on after. */
void mask_stream_flush(struct mask_stream *ms, mask_emit_fn emit, void *ud);
/* Frees what the stream holds (without emitting it). */
void mask_stream_free(struct mask_stream *ms);

#endif
