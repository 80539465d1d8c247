/*
 * test_sqlreach.c — what a read-only query can still reach (sqlreach.h):
 * the query read as PostgreSQL reads it, each finding at its byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/sqlreach.h"
#include "rbc/util.h"

/* Appends "AT what;" for each finding. */
static void collect(size_t at, const char *what, void *ud)
{
	sb_addf(ud, "%zu %s;", at, what);
}

static char *findings(const char *query)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	sqlreach_scan(query, collect, &sb);
	return sb_take(&sb);
}

#define EXPECT_REACH(query, want)                                                                          \
	do {                                                                                               \
		char *got_ = findings(query);                                                              \
		assert_string_equal(got_, want);                                                           \
		free(got_);                                                                                \
	} while (0)

#define PROGRAM "COPY … PROGRAM runs a command on the database server;"
#define FILE_ "COPY with a file name reads or writes a file on the database server;"

static void test_copy(void **state)
{
	(void)state;
	EXPECT_REACH("COPY t TO PROGRAM 'id'", "0 " PROGRAM);
	EXPECT_REACH("COPY t TO /**/ PROGRAM 'id'", "0 " PROGRAM);
	EXPECT_REACH("COPY t TO /* a /* nested */ one */ PROGRAM 'id'", "0 " PROGRAM);
	EXPECT_REACH("  copy t from -- c\nprogram 'id'", "2 " PROGRAM);
	EXPECT_REACH("COPY t TO '/tmp/x'", "10 " FILE_);
	EXPECT_REACH("COPY t TO E'/tmp/x'", "10 " FILE_);
	EXPECT_REACH("COPY t TO U&'/tmp/x'", "10 " FILE_);
	EXPECT_REACH("COPY t TO $x$/tmp/x$x$", "10 " FILE_);
	EXPECT_REACH("COPY t TO $$/tmp/x$$", "10 " FILE_);
	EXPECT_REACH("COPY t FROM E'/etc/passwd'", "12 " FILE_);
	/* not COPY's own TO, not a keyword, not a file */
	EXPECT_REACH("COPY (SELECT program FROM t) TO STDOUT", "");
	EXPECT_REACH("COPY t TO STDOUT WITH (FORMAT csv)", "");
	EXPECT_REACH("COPY t TO \"program\"", "");
	EXPECT_REACH("SELECT 1 /* COPY t TO PROGRAM 'id' */ -- COPY t TO '/x'", "");
}

static void test_functions(void **state)
{
	(void)state;
	EXPECT_REACH("SELECT lo_export(1, '/tmp/x')", "7 lo_export() writes a file on the database server;");
	EXPECT_REACH("SELECT pg_catalog.LO_IMPORT ('/x')", "18 LO_IMPORT() reads a file on the database server;");
	EXPECT_REACH("SELECT \"pg_read_file\" /* c */ ('/etc/passwd')",
	             "7 pg_read_file() reads a file on the database server;");
	EXPECT_REACH("SELECT U&\"lo\\005Fexport\"(1, '/tmp/x')", "7 lo_export() writes a file on the database server;");
	EXPECT_REACH("SELECT U&\"lo\\+00005Fexport\"(1, '/tmp/x')", "7 lo_export() writes a file on the database server;");
	EXPECT_REACH("SELECT U&\"lo!005Fexport\" UESCAPE '!' (1, '/x')", "7 lo_export() writes a file on the database server;");
	/* a name without a call is a column or a table */
	EXPECT_REACH("SELECT dblink_status FROM t", "");
	EXPECT_REACH("SELECT * FROM pg_ls_dir_info", "");
	EXPECT_REACH("SELECT 'lo_export' AS f", "");
	/* a role counts wherever it is named */
	EXPECT_REACH("SET ROLE pg_execute_server_program",
	             "9 pg_execute_server_program lets a session run programs on the server;");
	EXPECT_REACH("SET ROLE \"pg_read_server_files\"", "9 pg_read_server_files lets a session read the server's files;");
}

/* Strings are read again as dynamic SQL; findings point into the query. */
static void test_strings(void **state)
{
	(void)state;
	EXPECT_REACH("DO $$ BEGIN EXECUTE 'COPY t TO PROGRAM ''sh'''; END $$", "21 " PROGRAM);
	EXPECT_REACH("DO $f$ BEGIN EXECUTE E'SELECT lo_\\x65xport(1, \\'/x\\')'; END $f$",
	             "30 lo_export() writes a file on the database server;");
	EXPECT_REACH("SELECT E'\\'' || lo_export(1, 'x')", "16 lo_export() writes a file on the database server;");
	/* a dollar sign in a name or a parameter opens no string */
	EXPECT_REACH("SELECT a$b, $1, lo_export(1, 'x')", "16 lo_export() writes a file on the database server;");
	/* unterminated text ends the scan without reading past it */
	EXPECT_REACH("SELECT 'lo_export(", "8 lo_export() writes a file on the database server;");
	EXPECT_REACH("SELECT $q$ abc", "");
	EXPECT_REACH("SELECT /* abc", "");
	EXPECT_REACH("SELECT U&'\\", "");
	EXPECT_REACH("SELECT E'\\", "");
	EXPECT_REACH("", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
