/*
 * journal_internal.h — what the files of the journal share, and nothing
 * else sees. The journal is layered, downward only:
 *   journal.c        writing: the lines of events, group commit, the lock;
 *   journal_read.c   reading back: replay, the header, a run's summary;
 *   journal_check.c  the check of each line read back, knowing no file.
 * journal_replay, the one reader, judges every line with journal_check_line
 * before a caller sees it.
 */
#ifndef RBC_RECORD_JOURNAL_INTERNAL_H
#define RBC_RECORD_JOURNAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * What a reader carries from line to line to judge the next: the run
 * directory's name (the header's run), and the incident the lines build —
 * its levels and roles (the first runbook's, as the record gives them:
 * the header's, then a forced resume's), whether it was declared, and
 * which of its entries are todos (a todo_done names one by its index).
 */
struct journal_check {
	char *dir_name;
	cJSON *incident;          /* the first runbook's entry when it is an incident's (a copy) */
	bool declared;
	size_t entries;           /* incident lines so far: the incident's entries */
	bool *todo;               /* per entry: a todo */
	size_t captodo;
};

/* k ready for the first line of the journal of dir (its directory's name
   is what the header must name); journal_check_free frees what it holds. */
void journal_check_init(struct journal_check *k, const char *dir);
void journal_check_free(struct journal_check *k);

/*
 * Whether o, read from raw (len bytes), may be line `line` (from 1) of the
 * journal k judges, lines given in order: NULL when it may, else why not (a
 * new string, the caller frees). k learns from each line it passes.
 */
char *journal_check_line(const cJSON *o, const char *raw, size_t len, unsigned long line,
                         struct journal_check *k);

#endif
