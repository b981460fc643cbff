#!/bin/sh
# Install the Debian packages that building and testing ragstore needs, when
# any is missing.  Idempotent; does nothing when everything is present.
set -e
# clang and its runtimes build the fuzz targets (make fuzz, and the fuzz
# smoke run of make check; docs/HARDENING.md).  glusterfs-server, openssh-server
# and sshfs give the backing filesystems of make integration-backing
# glusterfs-server also serves the shared-mode tests (test_shared.py).
# (docs/BACKING.md); their services are started by the tests, not here.
PKGS="build-essential pkg-config libfuse3-dev fuse3 zlib1g-dev liblz4-dev
libsodium-dev libinih-dev libzstd-dev python3-pytest attr acl rsync git
sqlite3 jq python3-prometheus-client clang libclang-rt-14-dev
glusterfs-server openssh-server sshfs"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
