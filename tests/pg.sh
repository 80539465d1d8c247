# tests/pg.sh — the PostgreSQL of tests/services for a test file that needs
# one; sourced after tests/lib.sh.
#   pg_begin NAME  starts it in a directory of its own, $DIR (one PostgreSQL's
#                  user can reach), and sets $DB, its URL for the rbc role;
#                  a server that does not start fails the test file there
#   pg_end         stops it and removes $DIR (for the file's EXIT trap)
#   sql QUERY      one statement, its rows unaligned (psql -At)
#   pg_stop, pg_start
#                  stop it under a run, and start it again on its port
S=$ROOT/tests/services
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DIR=""
pg_begin() {
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/rbc-$1.XXXXXX")
	if ! "$S/start" "$DIR" postgres >"$TMP/start.out" 2>&1; then
		fail "PostgreSQL starts" "$(tail -20 "$TMP/start.out")"
		t_done
	fi
	# shellcheck disable=SC1091
	. "$DIR/env"
	DB="postgresql://rbc@127.0.0.1:$PGPORT/rbc_test"
}
pg_end() {
	[ -n "$DIR" ] || return 0
	"$S/stop" "$DIR" >/dev/null 2>&1
	rm -rf "$DIR"
}
sql() { psql -X -q -At "$DB" -c "$1" 2>&1; }
# as_pg CMD…: CMD as PostgreSQL's user when this is root (it refuses root).
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
pg_stop() { as_pg "$PGBIN/pg_ctl" stop -D "$DIR/pg" -m fast -w >>"$TMP/pg_ctl.log" 2>&1; }
pg_start() {
	as_pg "$PGBIN/pg_ctl" start -D "$DIR/pg" -l "$DIR/postgres.log" -W -o "-p $PGPORT" >>"$TMP/pg_ctl.log" 2>&1
	local i
	for i in $(seq 100); do
		"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && return 0
		sleep 0.1
	done
	return 1
}
