#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# cloudmap-sd's benchmarks (issue 3, "Benchmarks"): /targets throughput and
# p99 against nginx serving the same bytes (1k and 10k targets), peak
# resident memory with 10k targets while serving and refreshing, and the
# full refresh's wall time with 20 ms added to every AWS call (0 ms and a
# cached replay of the answers as baselines) and the calls of a light
# refresh. Prints the machine and one table per figure; see README.md.
# Bounded: about 5 minutes with the defaults; loopback only; every process
# it starts is stopped before it exits.
#
#   bench/cloudmap-sd/run.sh [--only 1,2,3] [--rounds N] [--duration SEC]
#       [--connections N] [--wrk-threads N] [--memory-duration SEC]
#       [--refresh-rounds N] [--daemon-env NAME=VALUE] [--verbose]
#
# CLOUDMAP_SD=path measures that binary; otherwise the script builds
# build-bench (release) with scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
-h | --help) sed -n '4,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
for tool in wrk python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "run.sh: $tool not found (scripts/setup.sh installs it)" >&2
		exit 1
	fi
done
if [[ ! -x /usr/sbin/nginx ]] && ! command -v nginx >/dev/null; then
	echo "run.sh: nginx not found (scripts/setup.sh installs nginx-light)" >&2
	exit 1
fi

if [[ -z "${CLOUDMAP_SD:-}" ]]; then
	scripts/build.sh build-bench -Dbuildtype=release >/dev/null
	CLOUDMAP_SD=build-bench/cloudmap-sd
fi
exec python3 bench/cloudmap-sd/bench.py --binary "$CLOUDMAP_SD" "$@"
