/*
 * sha256.h — SHA-256 (FIPS 180-4), for the run header's record of which
 * runbook files a run was started from.
 */
#ifndef RBC_SHA256_H
#define RBC_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;        /* bytes so far */
	unsigned char buf[64];
	size_t nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* The digest as 64 lower-case hex digits and a NUL. */
void sha256_hex(struct sha256 *s, char out[65]);
/* The digest of a file's bytes; false (errno set) when it cannot be read. */
bool sha256_file(const char *path, char out[65]);

#endif
