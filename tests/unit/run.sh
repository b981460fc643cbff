#!/bin/sh
# Run every unit test binary given as an argument, add up their
# "N passed, M failed" lines and print the total the same way.  Exits non-zero
# when any test failed, crashed, or did not print its summary line.
passed=0
failed=0
status=0
for t in "$@"; do
	case $t in
	*/*) cmd=$t ;;
	*) cmd=./$t ;;
	esac
	out=$("$cmd" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^[0-9]* passed, [0-9]* failed$'
	line=$(printf '%s\n' "$out" | grep '^[0-9]* passed, [0-9]* failed$' | tail -n 1)
	if [ -z "$line" ]; then
		echo "$t: no summary line (exit status $rc)"
		failed=$((failed + 1))
		status=1
		continue
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed}
	echo "$t: $line"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ]; then
		[ "$f" -eq 0 ] && failed=$((failed + 1))
		status=1
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
