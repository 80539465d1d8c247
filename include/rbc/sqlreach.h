/*
 * sqlreach.h — what a read-only SQL query can still reach beyond the
 * database, for rbc check's warnings.
 *
 * A read-only transaction refuses writes to tables, nothing else: a
 * superuser (or a role granted them) still runs programs (COPY … PROGRAM),
 * reads and writes the server's files (COPY … TO 'file', lo_export(),
 * pg_read_file()), opens other connections (dblink()), ends other sessions.
 *
 * The query is read as PostgreSQL reads it: comments (from -- to the end
 * of the line, and block comments, nested) are blanks; '…', E'…', U&'…'
 * (with UESCAPE) and $tag$…$tag$ are strings; "…" and U&"…" are
 * identifiers, decoded. A function counts when a "(" follows
 * its name; a role (pg_execute_server_program) wherever it is named; COPY
 * when PROGRAM or a string follows its own TO or FROM. The text of every
 * string is read again the same way, as dynamic SQL (EXECUTE in a DO block)
 * would run it. It is a warning, not a proof: a query built from pieces at
 * run time escapes it.
 */
#ifndef RBC_SQLREACH_H
#define RBC_SQLREACH_H

#include <stddef.h>

/* Called once per finding: at is a byte offset in the query (for a finding
   inside a string, where it starts in the query), what says what it does. */
typedef void (*sqlreach_fn)(size_t at, const char *what, void *ud);

/* Calls fn for everything query (a C string) can reach beyond the database. */
void sqlreach_scan(const char *query, sqlreach_fn fn, void *ud);

#endif
