#!/usr/bin/env bash
# rbc check: every malformed fixture gives exactly its expected diagnostics
# (FILE:LINE:COL: PATH: message) and exit 65; valid runbooks exit 0 with a
# summary; usage errors exit 64.
. tests/lib.sh
cd tests/fixtures || exit 1

n=0
for f in bad/*.json; do
	want=${f%.json}.err
	run "$RBC" check "$f"
	if [ ! -f "$want" ]; then
		fail "check $f" "no expected output $want"
	elif [ "$RC" != 65 ]; then
		fail "check $f exits 65" "exit $RC" "$ERR"
	elif [ -n "$OUT" ]; then
		fail "check $f prints nothing on stdout" "$OUT"
	elif [ "$ERR" != "$(cat "$want")" ]; then
		fail "check $f diagnostics" "$(diff <(printf '%s\n' "$ERR") "$want")"
	else
		ok "check $f: $(head -1 "$want" | cut -d: -f2-3) $(head -1 "$want" | cut -d: -f5- | cut -c1-60)"
	fi
	n=$((n + 1))
done
[ "$n" -ge 40 ] && ok "at least 40 malformed fixtures ($n)" || fail "at least 40 malformed fixtures" "only $n"

for f in good/*.json; do
	expect_rc "check $f is valid" 0 "$RBC" check "$f"
	expect_eq "check $f has no diagnostics" "$ERR" ""
done

run "$RBC" check good/every-key.json
expect_eq "summary counts steps by kind" "$OUT" \
	"good/every-key.json: ok: every-key (post-deploy), 22 steps: 2 group, 2 manual, 4 command, 4 http, 1 sql, 2 dns, 3 tcp, 2 prometheus, 2 nagios; includes good/../include/rollback-ok.json"
run "$RBC" check good/incident.json
expect_eq "incident summary names its severities" "$OUT" \
	"good/incident.json: ok: incident-small (incident), 3 steps: 2 manual, 1 command; 2 severities"

# Warnings do not fail a check unless --strict.
expect_rc "undefined variables only warn" 0 "$RBC" check warn/undefined-var.json
expect_eq "each undefined variable is named where it is used" "$ERR" \
'warn/undefined-var.json:3:20: title: warning: variable "VERSION" is not defined in vars, secrets or any capture (give it with --var VERSION=…)
warn/undefined-var.json:5:44: steps[0].http.url: warning: variable "BASE_URL" is not defined in vars, secrets or any capture (give it with --var BASE_URL=…)
warn/undefined-var.json:5:80: steps[0].when: warning: variable "ENABLED" is not defined in vars, secrets or any capture (give it with --var ENABLED=…)'
expect_match "summary counts the warnings" "$OUT" '\(3 warnings\)$'
expect_rc "--strict turns warnings into failure" 65 "$RBC" check --strict warn/undefined-var.json
expect_match "--strict says why" "$ERR" 'warn/undefined-var.json: 3 warnings \(--strict\)'

expect_rc "insecure TLS only warns" 0 "$RBC" check warn/insecure.json
expect_eq "… and the warning says what is not verified" "$ERR" \
'warn/insecure.json:4:70: steps[0].http.insecure: warning: TLS certificates are not verified for this request (insecure: true)'

# Several files: each is reported, the worst decides the exit.
run "$RBC" check good/japanese.json bad/no-action.json good/incident.json
expect_eq "mixed files exit 65" "$RC" 65
expect_match "valid files are still summarised (1)" "$OUT" '^good/japanese.json: ok: ja '
expect_match "valid files are still summarised (2)" "$OUT" '^good/incident.json: ok: incident-small '
expect_match "the invalid one is reported" "$ERR" 'bad/no-action.json:5:5: steps\[0\]: step has no action'
run "$RBC" check --quiet good/japanese.json
expect_eq "--quiet prints no summary" "$OUT" ""

# Usage and input errors.
expect_rc "no file is a usage error" 64 "$RBC" check
expect_match "usage is shown" "$ERR" 'usage: rbc check'
expect_rc "unknown option is a usage error" 64 "$RBC" check --frobnicate good/incident.json
expect_rc "missing file exits 66" 66 "$RBC" check no-such-file.json
expect_match "missing file is named" "$ERR" 'no-such-file.json: cannot read: No such file or directory'
expect_rc "a directory exits 66" 66 "$RBC" check good
expect_rc "check --help" 0 "$RBC" check --help

# A file over the size limit is refused without being parsed.
head -c $((64 * 1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' > "$TMP/huge.json"
expect_rc "a file over 64 MiB is refused" 65 "$RBC" check "$TMP/huge.json"
expect_match "size limit message" "$ERR" 'huge.json: file is larger than 64 MiB'

# Step trees deeper than the limit are refused with a message, not a crash.
python3 - "$TMP/deep.json" <<'PY'
import sys
depth = 61
s = '{"title": "leaf", "run": "true"}'
for i in range(depth):
    s = '{"title": "g%d", "steps": [%s]}' % (i, s)
open(sys.argv[1], "w").write('{"runbook": "deep", "title": "deep", "steps": [%s]}' % s)
PY
expect_rc "steps nested 62 deep are refused" 65 "$RBC" check "$TMP/deep.json"
expect_match "depth message" "$ERR" 'steps nested deeper than 60 levels'
t_done
