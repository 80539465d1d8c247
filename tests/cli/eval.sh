#!/usr/bin/env bash
# rbc eval as a runbook author uses it: verdicts and exit codes, the two
# output lines, samples from NAME=VALUE lists, --sample, --json and --var,
# syntax errors with a caret, and usage errors.
. tests/lib.sh

# verdict NAME WANT_RC WANT_LINE1 WANT_LINE2 ARGS...: exact stdout and exit.
verdict() {
	local name=$1 rc=$2 l1=$3 l2=$4; shift 4
	run "$RBC" eval "$@"
	if [ "$RC" = "$rc" ] && [ "$OUT" = "$l1"$'\n'"$l2" ] && [ -z "$ERR" ]; then
		ok "$name"
	else
		fail "$name" "exit $RC, want $rc" "stdout: $OUT" "want:   $l1 / $l2" "stderr: $ERR"
	fi
}

# Every verdict with its exit code.
verdict "PASS exits 0" 0 PASS "status = 200 == 200" 'status == 200' status=200
verdict "WARN exits 1" 1 WARN "time = 341 ms < 500 ms; warn: time = 341 ms > 300 ms" \
	'time < 500ms' --warn 'time > 300ms' time=341
verdict "--warn=EXPR form" 1 WARN "time = 341 ms < 500 ms; warn: time = 341 ms > 300 ms" \
	'time < 500ms' --warn='time > 300ms' time=341
verdict "FAIL exits 2" 2 FAIL "p95(time) = 584.8 ms > 500 ms (3 samples)" \
	'p95(time) < 500ms' time=120,340,612
verdict "UNKNOWN exits 3" 3 UNKNOWN "json.data.id is absent: no json" 'json.data.id == 5' status=200
verdict "ERROR exits 3" 3 ERROR "connection refused" 'status == 200' --error 'connection refused'
verdict "no samples is UNKNOWN" 3 UNKNOWN "no samples" 'p95(time) < 500ms'
verdict "constant expression needs no sample" 0 PASS "1.5 s == 1.5 s" '1500ms == 1.5s'

# Samples from NAME=VALUE.
verdict "a comma list gives samples" 2 FAIL \
	"all(status == 200): 2/3 samples hold; first failure sample 2: status = 503 != 200" \
	'status == 200' status=200,503,200
verdict "a single value is copied into every sample" 0 PASS \
	"all(status == 200 && time < 1s): 3/3 samples hold" \
	'status == 200 && time < 1s' status=200 time=1,2,3
verdict "plain time is milliseconds" 2 FAIL "time = 612 ms > 500 ms" 'time < 500ms' time=612
verdict "a unit on the value" 0 PASS "time = 300 ms < 500 ms" 'time < 500ms' time=0.3s
verdict "plain size is bytes" 2 FAIL "size = 12 KB > 10 KB" 'size < 10KB' size=12000
verdict "percent values" 0 PASS "rate = 0.05 % < 0.1 %" 'rate < 0.1%' rate=0.05%
verdict "true/false/null values" 0 PASS "ok = true == true; gone = null == null" \
	'ok == true && gone == null' ok=true gone=null
verdict "text values" 0 PASS "body = \"hello world\" == \"hello world\"" \
	'body == "hello world"' body='hello world'
verdict "an empty value is empty text" 0 PASS "len(body) = 0 == 0" 'len(body) == 0' body=
verdict "dotted names make objects" 0 PASS "perf.load = 2.5 < 5" 'perf.load < 5' perf.load=2.5
verdict "header names ignore case" 0 PASS "header[\"content-type\"] = \"text/html\" == \"text/html\"" \
	'header["content-type"] == "text/html"' header.Content-Type=text/html
verdict "an expression may start with -" 0 PASS "-x = -5 < 0" '-x < 0' x=5
verdict "-- ends the options" 0 PASS "-x = -5 < 0" -- '-x < 0' x=5
verdict "invalid UTF-8 in a value" 0 PASS 'stdout = "\xFFok" =~ /ok/' 'stdout =~ /ok/' stdout=$'\xffok'

# Whole samples and bodies.
verdict "--sample gives a sample" 2 FAIL "status = 503 != 200" \
	'status == 200' --sample '{"status": 503, "time": 12}'
verdict "--sample fields take their units" 0 PASS "time = 12 ms < 1 s" \
	'time < 1s' --sample '{"status": 503, "time": 12}'
verdict "repeated --sample" 0 PASS "avg(time) = 15 ms == 15 ms (2 samples)" \
	'avg(time) == 15ms' --sample '{"time": 10}' --sample '{"time": 20}'
verdict "NAME=VALUE merges into --sample" 0 PASS \
	"all(status == 200 && env == \"blue\"): 2/2 samples hold" \
	'status == 200 && env == "blue"' --sample '{"status": 200}' --sample '{"status": 200}' env=blue
verdict "a list pairs with repeated --sample" 0 PASS "sum(time) = 3 ms == 3 ms (2 samples)" \
	'sum(time) == 3ms' --sample '{"status": 200}' --sample '{"status": 200}' time=1,2
printf '{"data": {"items": [{"id": 7}]}, "ok": true}' >"$TMP/body.json"
verdict "--json gives json and body" 0 PASS \
	"json.data.items[0].id = 7 == 7; body = \"{\\\"data\\\": {\\\"items\\\": [{\\\"id\\\": 7}]}, \\\"ok\\\": t…\" =~ /\"ok\": true/" \
	'json.data.items[0].id == 7 && body =~ /"ok": true/' --json "$TMP/body.json"
verdict "--json with samples" 0 PASS "all(json.ok && status == 200): 2/2 samples hold" \
	'json.ok && status == 200' --json "$TMP/body.json" status=200,200
verdict "--var sets vars.NAME" 0 PASS "vars.ENV = \"blue\" == \"blue\"; vars.MAX = 500 ms > 400 ms" \
	'vars.ENV == "blue" && vars.MAX > 400ms' --var ENV=blue --var MAX=500ms
verdict "--var=NAME=VALUE, the last one wins" 0 PASS "vars.N = 2 == 2" \
	'vars.N == 2' --var N=1 --var=N=2
verdict "an unset variable is unknown" 3 UNKNOWN "vars.NOPE is not set" 'vars.NOPE == 1'

# Syntax errors: exit 64, the message, the expression and a caret.
run "$RBC" eval 'status = 200' status=200
expect_eq "syntax error exits 64" "$RC" 64
expect_eq "syntax error prints nothing on stdout" "$OUT" ""
expect_eq "syntax error message, expression and caret" "$ERR" \
"rbc: eval: syntax error at column 8: unexpected '=' (use == to compare)
status = 200
       ^"
run "$RBC" eval 'len(body) > 1 &&'
expect_eq "caret at the end" "$ERR" \
"rbc: eval: syntax error at column 17: expected a value, found end of expression
len(body) > 1 &&
                ^"
run "$RBC" eval '"日本" == x y'
expect_eq "columns count characters" "$(head -n 1 <<<"$ERR")" \
	"rbc: eval: syntax error at column 11: expected an operator or the end, found 'y'"
run "$RBC" eval 'time < 1s' --warn 'time >> 5'
expect_eq "syntax error in --warn exits 64" "$RC" 64
expect_eq "syntax error in --warn is named" "$(head -n 1 <<<"$ERR")" \
	"rbc: eval: syntax error in --warn at column 7: expected a value, found '>'"
run "$RBC" eval 'inrange(x, "2:1")' x=1
expect_eq "bad Nagios range is a syntax error" "$(head -n 1 <<<"$ERR")" \
	"rbc: eval: syntax error at column 12: bad range \"2:1\": start is greater than end"
run "$RBC" eval "$(printf '1%.0s' $(seq 8193))"
expect_eq "too long expression exits 64" "$RC" 64
expect_match "too long expression is named" "$ERR" "^rbc: eval: syntax error at column 8193: expression longer than 8192 bytes"
run "$RBC" eval "$(printf '(%.0s' $(seq 65))1$(printf ')%.0s' $(seq 65)) == 1"
expect_match "too deep expression is refused" "$ERR" "column 65: nesting deeper than 64 levels"

# Usage errors: exit 64 and the usage line.
USAGE='usage: rbc eval EXPR [NAME=VALUE...] [--sample JSON]... [--json FILE] [--warn EXPR] [--var NAME=VALUE]... [--error TEXT]'
usage_case() {
	local name=$1 msg=$2; shift 2
	run "$RBC" eval "$@"
	if [ "$RC" = 64 ] && [ "$ERR" = "rbc: eval: $msg"$'\n'"$USAGE" ] && [ -z "$OUT" ]; then
		ok "$name"
	else
		fail "$name" "exit $RC" "stderr: $ERR" "want: rbc: eval: $msg"
	fi
}
usage_case "no expression" "missing the expression"
usage_case "unknown option" "unknown option '--frobnicate'" 'x == 1' --frobnicate
usage_case "option without value" "--warn needs a value" 'x == 1' --warn
usage_case "not NAME=VALUE" "expected NAME=VALUE, not 'status'" 'status == 1' status
usage_case "bad NAME" "expected NAME=VALUE, not '1x=2'" 'x == 1' 1x=2
usage_case "bad --sample" "--sample needs a JSON object, not '[1]'" 'x == 1' --sample '[1]'
usage_case "bad --var" "--var needs NAME=VALUE, not 'a.b=1'" 'x == 1' --var a.b=1
run "$RBC" eval 'x == 1' x=1,2 y=1,2,3
expect_eq "lists of different lengths exit 64" "$RC" 64
expect_eq "lists of different lengths are named" "$(head -n 1 <<<"$ERR")" \
	"rbc: eval: x gives a different number of samples than the others (lists must have equal lengths, or length 1)"
run "$RBC" eval 'x == 1' --sample '{}' --sample '{}' x=1,2,3
expect_eq "samples and lists of different lengths exit 64" "$RC" 64
run "$RBC" eval --help
expect_eq "--help exits 0" "$RC" 0
expect_eq "--help starts with the usage" "$(head -n 1 <<<"$OUT")" "$USAGE"
expect_match "--help explains NAME=VALUE" "$OUT" "comma"
run "$RBC" eval -h
expect_eq "-h is --help" "$(head -n 1 <<<"$OUT")" "$USAGE"
run "$RBC" eval 'json.x == 1' --json "$TMP/nope.json"
expect_eq "unreadable --json exits 66" "$RC" 66
expect_eq "unreadable --json says why" "$ERR" "rbc: eval: cannot read $TMP/nope.json: No such file or directory"
printf '{"a": ' >"$TMP/bad.json"
run "$RBC" eval 'json.x == 1' --json "$TMP/bad.json"
expect_eq "invalid --json exits 65" "$RC" 65
expect_eq "invalid --json says so" "$ERR" "rbc: eval: $TMP/bad.json is not valid JSON"
# Functions over a list, `it` the element (docs/thresholds.md, Lists).
CLUSTER='{"members": [{"name": "a", "role": "Leader"}, {"name": "b", "role": "Replica"}]}'
verdict "count(list, cond)" 0 PASS 'count(json.members, it.role == "Leader") = 1 == 1' \
	'count(json.members, it.role == "Leader") == 1' --json <(echo "$CLUSTER")
verdict "all(list, cond) names the first failure" 2 FAIL \
	'all(json.members, it.role == "Leader") = false: 1/2 items hold; first failure item 2: it.role = "Replica" != "Leader"' \
	'all(json.members, it.role == "Leader")' --json <(echo "$CLUSTER")
verdict "any(list, cond) names the first match" 0 PASS \
	'any(json.members, it.name == "b") = true: 1/2 items hold; first match item 2: it.name = "b" == "b"' \
	'any(json.members, it.name == "b")' --json <(echo "$CLUSTER")
verdict "filter and map" 0 PASS \
	'map(filter(json.members, it.role == "Replica"), it.name) = ["b"] == ["b"]' \
	'map(filter(json.members, it.role == "Replica"), it.name) == ["b"]' --json <(echo "$CLUSTER")
verdict "the aggregate count(c) stays" 0 PASS "count(status >= 500) = 1 == 1 (3 samples)" \
	'count(status >= 500) == 1' status=200,500,200
verdict "a list function over a field" 0 PASS \
	'count(addrs, it =~ /^10\./) = 2 == 2' 'count(addrs, it =~ /^10\./) == 2' \
	--sample '{"addrs": ["10.0.0.1", "10.0.0.2", "192.168.0.1"]}'
verdict "a list function over no list is unknown" 3 UNKNOWN \
	'count() needs a list as argument 1, not text "a,b"' 'count(body, it == "a") == 1' --sample '{"body": "a,b"}'
verdict "an unknown element is named" 3 UNKNOWN \
	'any(json.members, it.zone == "eu"): item 1: it.zone is absent' \
	'any(json.members, it.zone == "eu")' --json <(echo '{"members": [{"name": "a"}]}')

# syntax_case NAME COLUMN MESSAGE EXPR: exit 64 and the first line of the error.
syntax_case() {
	local name=$1 col=$2 msg=$3; shift 3
	run "$RBC" eval "$@"
	if [ "$RC" = 64 ] && [ "$(head -n 1 <<<"$ERR")" = "rbc: eval: syntax error at column $col: $msg" ]; then
		ok "$name"
	else
		fail "$name" "exit $RC" "stderr: $ERR" "want: column $col: $msg"
	fi
}
IT_ONLY="'it' is the element of a list: it is read only in the last argument of count(list, …), any(list, …), all(list, …), filter(list, …) or map(list, …)"
syntax_case "it outside a list function" 1 "$IT_ONLY" 'it == 1'
syntax_case "it in the list argument" 7 "$IT_ONLY" 'count(it, it > 1) == 1'
syntax_case "it inside an aggregate" 19 "$IT_ONLY" 'any(json.x, count(it > 1) > 0)'
syntax_case "count with three arguments" 1 "count() takes 1 or 2 arguments, found 3" \
	'count(json.x, it, 1) == 1'
syntax_case "filter with one argument" 5 "filter() takes 2 arguments, found 1" 'len(filter(json.x)) == 0'
syntax_case "map of a number" 5 "map(list, …) needs a list as argument 1, such as json.items or [1, 2]" \
	'map(5, it) == []'
syntax_case "a misspelt list function" 1 "unknown function 'filtr' (did you mean 'filter'?)" \
	'filtr(json.x, it) == []'

# Regexes built from text: re() and quote() (docs/thresholds.md, Regexes from variables).
verdict "re(quote(var) + regex) matches" 0 PASS \
	'stdout = "db-01.eu (a)  running" =~ re(quote(vars.NODE) + " +running")' \
	'stdout =~ re(quote(vars.NODE) + " +running")' --var 'NODE=db-01.eu (a)' stdout='db-01.eu (a)  running'
verdict "quote() makes a dot literal" 2 FAIL \
	'stdout = "db-01Xeu" !~ re(quote(vars.NODE))' \
	'stdout =~ re(quote(vars.NODE))' --var NODE=db-01.eu stdout=db-01Xeu
verdict "match() takes re()" 0 PASS 'match(stdout, re("(\\d+) " + vars.W)) = "3" == "3"' \
	'match(stdout, re("(\\d+) " + vars.W)) == "3"' --var W=errors stdout='3 errors'
verdict "text that is no regex is unknown" 3 UNKNOWN \
	're(vars.P) = "a(" is not a regex: missing closing parenthesis' 'stdout =~ re(vars.P)' --var 'P=a(' stdout=x
verdict "re() of a number is unknown" 3 UNKNOWN 're() needs text, not number 5' 'stdout =~ re(n)' n=5 stdout=x
verdict "quote() of a number is unknown" 3 UNKNOWN 'quote() needs text, not number 5' 'quote(n) == "5"' n=5
syntax_case "re() alone" 1 "re() builds a regex: it goes after =~ or !~, or into match()" 're("a") == "a"'
syntax_case "a literal that is no regex" 14 "bad regex: missing closing parenthesis" 'stdout =~ re("(")'
syntax_case "re() of a number literal" 14 "re() needs text" 'stdout =~ re(5)'
syntax_case "re() with flags" 11 "re() takes 1 argument, found 2" 'stdout =~ re("a", "i")'
syntax_case "quote() of a list literal" 7 "quote() needs text" 'quote([1]) == ""'
syntax_case "quote() without re()" 11 "=~ needs a regex literal such as /ok/i, or re(text)" 'stdout =~ quote("a")'

# The wall clock: now(), hour(), weekday() (docs/thresholds.md, Time of day).
export RBC_TEST_NOW=2026-12-06T11:30:00Z
verdict "now() honours RBC_TEST_NOW" 0 PASS "hour(now()) = 11 == 11" 'hour(now()) == 11'
verdict "hour() in an IANA zone" 0 PASS 'hour(now(), "Asia/Tokyo") = 20 == 20' 'hour(now(), "Asia/Tokyo") == 20'
verdict "weekday() is 1 on Monday" 0 PASS 'weekday(now(), "Pacific/Kiritimati") = 1 == 1' \
	'weekday(now(), "Pacific/Kiritimati") == 1'
verdict "weekday() in UTC" 2 FAIL 'weekday(now()) = 7 > 5' 'weekday(now()) <= 5'
verdict "a zone from a variable" 0 PASS 'hour(now(), vars.TZ) = 3 < 6' 'hour(now(), vars.TZ) < 6' \
	--var TZ=America/Los_Angeles
verdict "daylight saving time" 0 PASS 'hour("2026-07-01T12:00:00Z", "Europe/Paris") = 14 == 14' \
	'hour("2026-07-01T12:00:00Z", "Europe/Paris") == 14'
verdict "an unknown zone from a variable is unknown" 3 UNKNOWN \
	'unknown time zone "Mars/Olympus" (no such zone in /usr/share/zoneinfo)' \
	'hour(now(), vars.TZ) < 6' --var TZ=Mars/Olympus
verdict "a time that is no time is unknown" 3 UNKNOWN \
	'weekday() needs a time (now(), seconds since 1970, or text such as "2026-12-06T11:00:00Z"), not text "monday"' \
	'weekday(day) == 1' day=monday
run env TZ=Asia/Tokyo "$RBC" eval 'hour(now()) == 11'
expect_eq "the process's TZ changes nothing" "$RC" 0
unset RBC_TEST_NOW
syntax_case "an unknown zone" 13 'unknown time zone "Asia/Tokio" (no such zone in /usr/share/zoneinfo)' \
	'hour(now(), "Asia/Tokio") < 6'
syntax_case "a path is no zone" 13 '"../../etc/passwd" is not a time zone name such as "Asia/Tokyo"' \
	'hour(now(), "../../etc/passwd") < 6'
syntax_case "a zone that is no text" 13 'hour() needs a zone name such as "Asia/Tokyo"' 'hour(now(), 9) < 6'
syntax_case "a text that is no time" 9 \
	'weekday() needs a time such as "2026-12-06T11:00:00Z" (RFC 3339, with Z or an offset)' 'weekday("monday") == 1'
syntax_case "now() takes nothing" 1 "now() takes 0 arguments, found 1" 'now(1) > 0'
syntax_case "hour() with three arguments" 1 "hour() takes 1 or 2 arguments, found 3" 'hour(now(), "UTC", 1) < 6'
syntax_case "a misspelt weekday" 1 "unknown function 'weekdays' (did you mean 'weekday'?)" 'weekdays(now()) == 1'

t_done
