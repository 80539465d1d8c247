#!/usr/bin/env bash
# make install PREFIX=… puts the binary, the man page, the docs and the
# runbooks where they belong, and the installed binary works.
. tests/lib.sh
if sanitized; then
	skip "make install" "installs the release build; the sanitizer run checks the same code"; t_done
fi
run make -s install PREFIX="$TMP/usr"
expect_eq "make install succeeds" "$RC" 0
for f in bin/rbc share/man/man1/rbc.1 share/doc/rbc/runbook-format.md \
	share/doc/rbc/runbook.schema.json share/rbc/runbooks/post-deploy.json; do
	[ -e "$TMP/usr/$f" ] && ok "installed $f" || fail "installed $f" "$(ls -R "$TMP/usr" | head -40)"
done
run "$TMP/usr/bin/rbc" check "$TMP/usr/share/rbc/runbooks/post-deploy.json"
expect_eq "the installed rbc checks an installed runbook" "$RC" 0
t_done
