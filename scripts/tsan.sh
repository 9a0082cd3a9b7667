#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The unit and integration suites under ThreadSanitizer: configures (once)
# and builds BUILDDIR with -Db_sanitize=thread, then runs both suites with
# TSan stopping at its first report. The daemon's harness fails a case whose
# daemon printed a ThreadSanitizer report; a C test program fails by its
# exit code. test/tsan.supp, when present, suppresses library internals
# only (one commented entry each), never our code.
#
#   scripts/tsan.sh [BUILDDIR] [meson test options...]   (default build-tsan)
#   CC=clang-14 scripts/tsan.sh build-tsan-clang         (clang's TSan)
set -euo pipefail
cd "$(dirname "$0")/.."

builddir=${1:-build-tsan}
shift || true

scripts/build.sh "$builddir" -Db_sanitize=thread -Db_lundef=false

options=halt_on_error=1:second_deadlock_stack=1
if [[ -f test/tsan.supp ]]; then
	options+=":suppressions=$PWD/test/tsan.supp"
fi
TSAN_OPTIONS=$options meson test -C "$builddir" --print-errorlogs --num-processes 2 \
	--suite unit --suite integration "$@"
