#!/bin/sh
# Run the ragstore integration suite from the repository root.
#   tests/integration/run.sh [pytest args...]     e.g. -k model -x
# Uses the system python (python3-pytest), not whatever python3 is on PATH.
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
