#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's first command: installs what is needed, builds, and runs the
# main job. Until the local demo stack lands (issue 5) that is: build and
# print cloudmap-sd --help.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --build
scripts/build.sh build
./build/cloudmap-sd --help
