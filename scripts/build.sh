#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Configures (once, and again when git's HEAD moves) and builds cloudmap-sd
# in a build directory. The one place the build commands live: CI
# (scripts/test.sh), the demo and the Dockerfile's build stage all call it.
#
#   scripts/build.sh BUILDDIR [meson setup options...]
set -euo pipefail

builddir=${1:?usage: scripts/build.sh BUILDDIR [meson options...]}
shift
cd "$(dirname "$0")/.."

if [[ ! -f "$builddir/build.ninja" ]]; then
	meson setup "$builddir" --werror "$@"
else
	# meson.build reads the git revision when it configures; configure
	# again when HEAD moved, so --version and build_info name the source.
	revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	if ! grep -qF "\"$revision\"" "$builddir/build-config.h" 2>/dev/null; then
		meson setup --reconfigure "$builddir" >/dev/null
	fi
fi
meson compile -C "$builddir"
