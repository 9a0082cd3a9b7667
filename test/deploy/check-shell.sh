#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bash -n and shellcheck on every shell script of deploy/, scripts/ and
# test/deploy/, one TAP test each. Sourced files (env.sh, lib.sh) are checked
# through the scripts that source them too (shellcheck -x).
set -euo pipefail
root=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

command -v shellcheck >/dev/null || {
	echo "Bail out! shellcheck not found: run scripts/setup.sh"
	exit 1
}
mapfile -t files < <(find deploy scripts test/deploy -name '*.sh' -type f | sort)
n=0 failed=0

comment() {
	local line
	while IFS= read -r line; do
		echo "#   $line"
	done <<<"$1"
}
for f in "${files[@]}"; do
	n=$((n + 1))
	if out=$(bash -n "$f" 2>&1 && shellcheck -x -P SCRIPTDIR "$f" 2>&1); then
		echo "ok $n - bash -n and shellcheck $f"
	else
		comment "$out"
		echo "not ok $n - bash -n and shellcheck $f"
		failed=$((failed + 1))
	fi
done
echo "1..$n"
((n > 0 && failed == 0))
