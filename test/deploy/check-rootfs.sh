#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The runtime image's file system, as the Dockerfile assembles it with
# deploy/docker/make-rootfs.sh, built here from this build's binaries (the
# build stage is Debian 12 too, so the same libraries): it must come in
# under the size budget, and each binary must start inside it alone
# (chroot, when run as root), which proves the library closure complete.
#
#   CLOUDMAP_SD_BINARY=... [WEBAPP_BINARY=...] check-rootfs.sh
set -euo pipefail
root=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
budget_bytes=$((30 * 1000 * 1000))
n=0 failed=0

comment() {
	local line
	while IFS= read -r line; do
		echo "#   $line"
	done <<<"$1"
}

tap() { # tap OK NAME
	n=$((n + 1))
	if [[ "$1" == ok ]]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

check_binary() {
	local name=$1 bin=$2 dir=$3 size out
	if ! out=$("$root/deploy/docker/make-rootfs.sh" "$dir" "$bin" 2>&1); then
		comment "$out"
		tap fail "$name: make-rootfs.sh"
		return
	fi
	size=$(du -sb "$dir" | cut -f1)
	echo "# $name: runtime file system $size bytes ($(du -sh "$dir" | cut -f1)), $(find "$dir" -name '*.so*' | wc -l) shared objects"
	if ((size < budget_bytes)); then tap ok "$name: under 30 MB"; else tap fail "$name: under 30 MB"; fi
	if [[ $(id -u) -ne 0 ]]; then
		echo "ok $((n += 1)) - $name: starts alone in its file system # SKIP chroot needs root"
	elif out=$(chroot "$dir" "/usr/local/bin/${bin##*/}" --version 2>&1); then
		echo "# $out"
		tap ok "$name: starts alone in its file system"
	else
		comment "$out"
		tap fail "$name: starts alone in its file system"
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check_binary cloudmap-sd "${CLOUDMAP_SD_BINARY:?set CLOUDMAP_SD_BINARY}" "$tmp/cloudmap-sd"
if [[ -x "${WEBAPP_BINARY:-}" ]]; then
	check_binary webapp "$WEBAPP_BINARY" "$tmp/webapp"
else
	echo "# no web app binary in this build"
fi
echo "1..$n"
((failed == 0))
