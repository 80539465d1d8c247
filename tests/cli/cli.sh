#!/usr/bin/env bash
# The top-level command line: help, version, unknown commands.
. tests/lib.sh
expect_rc "rbc --help" 0 "$RBC" --help
expect_match "help lists check" "$OUT" 'rbc check'
expect_match "help lists eval" "$OUT" 'rbc eval'
expect_match "help gives the exit codes" "$OUT" '65 invalid runbook'
expect_rc "rbc --version" 0 "$RBC" --version
expect_match "version format" "$OUT" '^rbc [0-9]+\.[0-9]+\.[0-9]+$'
expect_rc "no command is a usage error" 64 "$RBC"
expect_rc "unknown command is a usage error" 64 "$RBC" frobnicate
expect_match "unknown command is named" "$ERR" 'unknown command "frobnicate"'
t_done
