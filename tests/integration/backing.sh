#!/bin/sh
# Run the mount tests with BACKING on each network filesystem in turn
# (docs/BACKING.md): a GlusterFS volume and an sshfs mount, each started by
# the test session and stopped at its end (tests/integration/backingfs.py).
#   tests/integration/backing.sh [glusterfs|sshfs ...] [-- pytest args...]
# Part of make check (not of its sanitizer runs: see docs/BACKING.md).
cd "$(dirname "$0")/../.." || exit 1
kinds=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	kinds="$kinds $1"
	shift
done
[ "$1" = "--" ] && shift
[ -n "$kinds" ] || kinds="glusterfs sshfs"
files="test_basic.py test_semantics.py test_names.py test_xattrs.py test_crash.py
test_model.py test_golden.py test_backing.py"
paths=""
for f in $files; do
	paths="$paths tests/integration/$f"
done
status=0
for k in $kinds; do
	echo "== BACKING on $k"
	# shellcheck disable=SC2086
	RAGSTORE_BACKING_FS=$k /usr/bin/python3 -m pytest -q -p no:cacheprovider -rs \
		$paths "$@" || status=1
done
exit $status
