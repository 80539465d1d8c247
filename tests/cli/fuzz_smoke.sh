#!/usr/bin/env bash
# The fuzz harnesses still pass over their committed seed corpora: each is
# built (make build/fuzz/fuzz_NAME) and every seed in tests/fuzz/corpus/NAME/
# runs once under ASan, UBSan and LeakSanitizer, without mutation
# (tests/fuzz/run --corpus-only). A seed that once crashed the loader stays a
# regression test this way. Skipped when clang cannot build libFuzzer
# binaries; `make fuzz` is the real fuzzing run.
. tests/lib.sh
cd "$ROOT" || exit 1

shopt -s nullglob
harnesses=(tests/fuzz/fuzz_*.c)
if [ ${#harnesses[@]} -eq 0 ]; then
	skip "fuzz smoke" "no harness in tests/fuzz/"
	t_done
fi
if ! command -v clang >/dev/null; then
	skip "fuzz smoke" "clang is not installed (make deps-fuzz)"
	t_done
fi
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
	>"$TMP/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$TMP/probe" "$TMP/probe.c" >"$TMP/probe.log" 2>&1; then
	skip "fuzz smoke" "clang cannot link libFuzzer (libclang-rt-14-dev; make deps-fuzz)"
	t_done
fi

for src in "${harnesses[@]}"; do
	name=$(basename "$src" .c)
	short=${name#fuzz_}
	if ! make --no-print-directory "build/fuzz/$name" >"$TMP/build.log" 2>&1; then
		fail "build $name" "$(grep -E 'error|undefined' "$TMP/build.log" | head -n 20)"
		continue
	fi
	if [ ! -d "tests/fuzz/corpus/$short" ]; then
		fail "$name has a seed corpus" "no tests/fuzz/corpus/$short/"
		continue
	fi
	run "$ROOT/tests/fuzz/run" --corpus-only "build/fuzz/$name"
	if [ "$RC" = 0 ]; then
		ok "$name runs its seed corpus clean: ${OUT#"$name: "}"
	else
		fail "$name runs its seed corpus clean" "$OUT" "${ERR:0:600}"
	fi
done
t_done
