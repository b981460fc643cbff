#!/bin/sh
# Run a test command of a sanitizer build (make check SANITIZE=...):
#   tests/sanitize.sh BUILDDIR COMMAND...
# Every process of it (test binaries, the ragstore commands and daemons
# that the integration tests start, in the foreground or not) writes its
# AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer or
# ThreadSanitizer reports to files under BUILDDIR/reports/ instead of
# stderr, where the tests would take them for the program's own output.
# Fails when COMMAND fails or when any report was written, and shows them.
dir=$1
shift
reports=$(cd "$dir" && pwd)/reports
rm -rf "$reports"
mkdir -p "$reports"
# Commands the tests run as other users write their reports here too.
chmod 1777 "$reports"
# abort_on_error=0 and exitcode: a report is also a failing exit status,
# which the tests see; detect_leaks covers every process at its exit.
ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0"
LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=0:second_deadlock_stack=1"
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS
"$@"
rc=$?
n=$(find "$reports" -type f | wc -l)
if [ "$n" -gt 0 ]; then
	echo "sanitize: $n report file(s) in $reports:"
	for f in $(find "$reports" -type f | head -n 5); do
		echo "== $f"
		head -n 40 "$f"
	done
	exit 1
fi
echo "sanitize: no reports"
exit $rc
