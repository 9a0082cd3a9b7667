#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's first command: installs what the demo needs (Debian
# packages), builds, and runs the local demo in the foreground until Ctrl-C:
# the local Cloud Map, three web apps, the node exporter, cloudmap-sd and
# Prometheus, all on loopback (scripts/demo.py; its options pass through,
# e.g. scripts/demo.sh --prometheus-port 29090; --help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --demo
scripts/build.sh build
exec python3 scripts/demo.py --build-dir build "$@"
