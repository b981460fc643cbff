#!/bin/sh
# Run the libFuzzer targets (built by make fuzz-build into build/fuzz/).
#   tests/fuzz/run.sh SECONDS BIN...          make fuzz: each target for SECONDS,
#                                             new inputs kept in build/fuzz/corpus/NAME
#   tests/fuzz/run.sh -smoke SECONDS BIN...   make check: each target over its seed
#                                             corpus, then SECONDS of fuzzing
# The seeds are tests/fuzz/corpus/NAME/ (never written to).  A crash, leak,
# sanitizer report or timeout leaves its input in build/fuzz/crashes/ and
# fails the run; every target runs regardless.  Prints one line per target
# and "fuzz: N passed, M failed".
smoke=0
if [ "$1" = "-smoke" ]; then
	smoke=1
	shift
fi
secs=$1
shift
top=build/fuzz
mkdir -p "$top/crashes" "$top/logs" "$top/corpus"
passed=0
failed=0
for bin in "$@"; do
	name=${bin##*/fuzz_}
	seeds=tests/fuzz/corpus/$name
	log=$top/logs/$name.log
	if [ "$smoke" -eq 1 ]; then
		work=$(mktemp -d "${TMPDIR:-/tmp}/ragstore-fuzz-smoke.XXXXXX")
	else
		work=$top/corpus/$name
		mkdir -p "$work"
	fi
	# Records, blobs and index blocks are large; the rest stay small.
	case $name in
	record_v1 | record_v2 | codec) maxlen=140000 ;;
	header_v2 | xattrs) maxlen=90000 ;;
	*) maxlen=8192 ;;
	esac
	"$bin" -max_total_time="$secs" -max_len="$maxlen" -timeout=20 -rss_limit_mb=2560 \
		-print_final_stats=1 -artifact_prefix="$top/crashes/$name-" \
		"$work" "$seeds" >"$log" 2>&1
	rc=$?
	[ "$smoke" -eq 1 ] && rm -rf "$work"
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz_$name: ok, ${runs:-?} runs in ${secs}s"
		passed=$((passed + 1))
	else
		echo "fuzz_$name: FAILED (exit status $rc), log $log:"
		grep -E "ERROR|SUMMARY|assertion|Test unit written|runtime error" "$log" | head -n 20
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
