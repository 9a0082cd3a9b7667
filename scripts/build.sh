#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Configures (once) and builds cloudmap-sd in a build directory. The one
# place the build commands live: CI (scripts/test.sh), the demo and the
# Dockerfile's build stage all call it.
#
#   scripts/build.sh BUILDDIR [meson setup options...]
set -euo pipefail

builddir=${1:?usage: scripts/build.sh BUILDDIR [meson options...]}
shift
cd "$(dirname "$0")/.."

if [[ ! -f "$builddir/build.ninja" ]]; then
	meson setup "$builddir" --werror "$@"
fi
meson compile -C "$builddir"
