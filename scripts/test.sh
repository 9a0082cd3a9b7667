#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#  1. installs what is needed (scripts/setup.sh) and checks the formatting;
#  2. a --werror build running every suite: unit, integration, e2e (the real
#     Prometheus, Chromium, the demo), deploy, fuzz-corpus (every fuzz
#     target over its seed corpus), then soak and valgrind on their own;
#  3. the unit, integration and fuzz-corpus suites again under
#     AddressSanitizer + UndefinedBehaviorSanitizer, and the unit and
#     integration suites under ThreadSanitizer (scripts/tsan.sh);
#  4. every libFuzzer target for a bounded time (scripts/fuzz.sh);
# and ends with one line "N passed, N failed" over every test case run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/check-format.sh

scripts/build.sh build-ci
scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false

status=0
run() {
	"$@" || status=1
}

run meson test -C build-ci --print-errorlogs --num-processes 2 --logbase main \
	--suite unit --suite integration --suite e2e --suite deploy --suite fuzz-corpus
run meson test -C build-ci --print-errorlogs --num-processes 2 --logbase long \
	--suite soak --suite valgrind
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run meson test -C build-asan --print-errorlogs --num-processes 2 --logbase asan \
	--suite unit --suite integration --suite fuzz-corpus
run scripts/tsan.sh build-tsan --logbase tsan
run scripts/fuzz.sh --seconds "${CLOUDMAP_SD_FUZZ_SECONDS:-40}"

python3 scripts/test-summary.py build-ci/meson-logs/main.json build-ci/meson-logs/long.json \
	build-asan/meson-logs/asan.json build-tsan/meson-logs/tsan.json
exit "$status"
