#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when a C file differs from what clang-format makes of it (.clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')
if ((${#files[@]} == 0)); then
	exit 0
fi
clang-format --dry-run --Werror "${files[@]}"
