#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Benchmark of the demo web app: wrk against GET /work with the simulated
# latency and the error rate off, instrumentation on and off in one run.
#
# Two webapp processes run side by side on loopback, one instrumented and one
# started with --no-metrics.instrument. The rounds alternate between them
# (swapping the order every round, so that drift in the machine's load hits
# both alike). The report names the machine and gives, per mode, the median
# requests/s, their ratio (the cost of the instrumentation), the median of
# the per-round ratios, and the median CPU time the webapp spent per request
# (from /proc/<pid>/stat; less sensitive to other load on the machine).
# Bounded: about 2 x (rounds x duration + 2) seconds.
#
#   bench/webapp/run.sh [--rounds N] [--duration SEC] [--connections N] [--wrk-threads N]
#
# WEBAPP=path runs that binary; otherwise the script builds build-bench
# (release) with scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=10
duration=3
connections=64
wrk_threads=1
while (($# > 0)); do
	case "$1" in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--connections) connections=$2; shift 2 ;;
	--wrk-threads) wrk_threads=$2; shift 2 ;;
	-h | --help) sed -n '3,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
for n in "$rounds" "$duration" "$connections" "$wrk_threads"; do
	if ! [[ "$n" =~ ^[1-9][0-9]*$ ]] || ((n > 1000)); then
		echo "run.sh: not a count from 1 to 1000: $n" >&2
		exit 2
	fi
done
for tool in wrk curl python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "run.sh: $tool not found (scripts/setup.sh installs it)" >&2
		exit 1
	fi
done

if [[ -z "${WEBAPP:-}" ]]; then
	scripts/build.sh build-bench -Dbuildtype=release >/dev/null
	WEBAPP=build-bench/webapp/webapp
fi

pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME PORT [FLAGS...]: a webapp with no latency, no errors, no load.
start() {
	local port=$2
	shift 2
	"$WEBAPP" --web.listen-address="127.0.0.1:$port" --load.rate=0 --work.latency-min=0s \
		--work.latency-max=0s --work.error-rate=0 --log.level=warn "$@" &
	pids+=($!)
}

wait_healthy() {
	local deadline=$((SECONDS + 10))
	until curl -sf -o /dev/null "http://127.0.0.1:$1/-/healthy"; do
		if ((SECONDS >= deadline)); then
			echo "run.sh: the webapp on port $1 did not become healthy" >&2
			exit 1
		fi
		sleep 0.05 # poll interval
	done
}

# round PORT PID SECONDS: one wrk run against /work; prints its requests/s
# and the webapp's CPU time per request in microseconds.
round() {
	local before after out
	before=$(cpu_ticks "$2")
	out=$(wrk -t"$wrk_threads" -c"$connections" -d"$3"s "http://127.0.0.1:$1/work")
	after=$(cpu_ticks "$2")
	awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
		/ requests in / { n = $1 }
		/^Requests\/sec:/ { rps = $2 }
		END { printf "%.0f %.2f\n", rps, n ? ticks / hz * 1e6 / n : 0 }' <<<"$out"
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

port_on=$(free_port)
port_off=$(free_port)
while [[ "$port_off" == "$port_on" ]]; do
	port_off=$(free_port)
done
start on "$port_on"
pid_on=${pids[-1]}
start off "$port_off" --no-metrics.instrument
pid_off=${pids[-1]}
wait_healthy "$port_on"
wait_healthy "$port_off"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) cores, $(uname -sr)"
echo "wrk: $wrk_threads thread(s), $connections connections, $rounds rounds of ${duration}s per mode, GET /work on 127.0.0.1"
echo "webapp: $("$WEBAPP" --version)"

round "$port_on" "$pid_on" 2 >/dev/null # warm-up
round "$port_off" "$pid_off" 2 >/dev/null

rps_on=() rps_off=() cpu_on=() cpu_off=() ratios=()
printf '%-6s %12s %12s %8s %12s %12s\n' round "on req/s" "off req/s" "on/off" "on cpu us/req" "off cpu us/req"
for ((i = 1; i <= rounds; i++)); do
	# Swap the order every round, so that drift hits both modes alike.
	if ((i % 2)); then
		read -r a ca < <(round "$port_on" "$pid_on" "$duration")
		read -r b cb < <(round "$port_off" "$pid_off" "$duration")
	else
		read -r b cb < <(round "$port_off" "$pid_off" "$duration")
		read -r a ca < <(round "$port_on" "$pid_on" "$duration")
	fi
	r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
	rps_on+=("$a") rps_off+=("$b") cpu_on+=("$ca") cpu_off+=("$cb") ratios+=("$r")
	printf '%-6s %12s %12s %8s %12s %12s\n' "$i" "$a" "$b" "$r" "$ca" "$cb"
done

# The instrumented one counted; the other did not.
counted=$(curl -sf "http://127.0.0.1:$port_on/metrics" |
	awk '/^http_requests_total\{method="GET",path="\/work",code="200"\}/ { print $2 }')
uncounted=$(curl -sf "http://127.0.0.1:$port_off/metrics" | grep -c '^http_requests_total' || true)
if [[ -z "$counted" || "$uncounted" != 0 ]]; then
	echo "run.sh: instrumentation is not as expected (on counted '${counted:-nothing}', off has $uncounted series)" >&2
	exit 1
fi

m_on=$(median "${rps_on[@]}")
m_off=$(median "${rps_off[@]}")
m_ratio=$(median "${ratios[@]}")
m_cpu_on=$(median "${cpu_on[@]}")
m_cpu_off=$(median "${cpu_off[@]}")
awk -v on="$m_on" -v off="$m_off" -v ratio="$m_ratio" -v con="$m_cpu_on" -v coff="$m_cpu_off" \
	-v counted="$counted" 'BEGIN {
	printf "median requests/s: on %.0f, off %.0f\n", on, off
	printf "ratio on/off of the medians: %.3f: instrumentation costs %.1f%% of throughput\n", on / off, (1 - on / off) * 100
	printf "median of the per-round ratios on/off: %.3f\n", ratio
	printf "median webapp CPU per request: on %.2f us, off %.2f us (%+.1f%%)\n", con, coff, (con / coff - 1) * 100
	printf "requests counted by the instrumented app: %.0f\n", counted
	fast = (on >= 20000) ? "met" : "MISSED"
	cheap = ((1 - on / off) < 0.05) ? "met" : "MISSED"
	printf "targets: >= 20000 req/s instrumented: %s; cost < 5%%: %s\n", fast, cheap
}'
