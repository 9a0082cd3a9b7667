#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The whole test suite, as CI runs it (.ci/run calls exactly this):
# installs what is needed, checks formatting, builds with warnings as errors,
# runs every suite, then runs the unit and integration suites again in an
# address+undefined sanitizer build. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/check-format.sh

scripts/build.sh build-ci
scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false

status=0
meson test -C build-ci --print-errorlogs --num-processes 2 || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite integration ||
	status=1

python3 scripts/test-summary.py build-ci/meson-logs/testlog.json build-asan/meson-logs/testlog.json
exit "$status"
