#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds the libFuzzer targets (fuzz/, clang-14 with ASan+UBSan) and runs
# each for a bounded time, two at a time. Exits non-zero when any target
# crashes, leaks, hangs, runs out of memory or prints a sanitizer report;
# the input that did it is left in BUILDDIR/fuzz-artifacts/<name>/.
# Prints one summary line per target: runs, execs/s, coverage, corpus.
#
#   scripts/fuzz.sh                          every target, 45 s each
#   scripts/fuzz.sh --seconds 3600 sigv4     one target for an hour
#   scripts/fuzz.sh --jobs 1 --builddir DIR ini flags
#
# What a target finds new is kept in BUILDDIR/fuzz-corpus/<name>/ (the seeds
# in fuzz/corpus/<name>/ are only read), so later runs start from there.
# Logs: BUILDDIR/fuzz-logs/<name>.log. See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=45
jobs=2
builddir=build-libfuzzer
targets=()

usage() {
	echo "usage:" >&2
	sed -n '10,12p' "$0" | sed 's/^#//' >&2
	exit "${1:-2}"
}

while (($#)); do
	case "$1" in
	--seconds) seconds=${2:?}; shift 2 ;;
	--jobs) jobs=${2:?}; shift 2 ;;
	--builddir) builddir=${2:?}; shift 2 ;;
	-h | --help) usage 0 ;;
	-*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
	*) targets+=("$1"); shift ;;
	esac
done

# Every target fuzz/meson.build lists, when none is named.
all_targets() {
	sed -n "/^fuzz_targets = \[/,/^\]/s/^[[:space:]]*'\([a-z0-9_-]*\)',\$/\1/p" fuzz/meson.build
}
if ((${#targets[@]} == 0)); then
	mapfile -t targets < <(all_targets)
fi

# Quiet unless it fails.
build() {
	local t outs=() log
	for t in "${targets[@]}"; do
		outs+=("fuzz/fuzz_$t")
	done
	log=$(mktemp)
	if ! { [[ -f "$builddir/build.ninja" ]] ||
		CC=clang-14 meson setup "$builddir" --werror -Dfuzzing=true \
			-Db_sanitize=address,undefined -Db_lundef=false; } >"$log" 2>&1 ||
		! ninja -C "$builddir" "${outs[@]}" >>"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "fuzz.sh: build failed" >&2
		exit 1
	fi
	rm -f "$log"
}

# Runs one target; its exit status says whether it found something.
run_one() {
	local t=$1 work="$builddir/fuzz-corpus/$1" art="$builddir/fuzz-artifacts/$1/"
	local log="$builddir/fuzz-logs/$1.log" args=()

	mkdir -p "$work" "$art" "$builddir/fuzz-logs"
	if [[ -f "fuzz/$t.dict" ]]; then
		args+=("-dict=fuzz/$t.dict")
	fi
	# Options already in the environment come last and win (e.g. a
	# suppressions file while a known report waits for its fix).
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS} \
		"$builddir/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art" "${args[@]}" \
		"$work" "fuzz/corpus/$t" >"$log" 2>&1 || return 1
	! grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log"
}

# "NAME: ok runs=... execs/s=... cov=... ft=... corpus=N files (B bytes)".
summary() {
	local t=$1 status=$2 log="$builddir/fuzz-logs/$1.log" work="$builddir/fuzz-corpus/$1"
	local runs eps cov ft files bytes
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2) || true
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2) || true
	files=$(find "$work" -type f | wc -l)
	bytes=$(find "$work" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	printf '%-11s %-5s runs=%s execs/s=%s cov=%s ft=%s corpus=%s files (%s bytes)\n' \
		"$t:" "$status" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$files" "$bytes"
	if [[ $status != ok ]]; then
		grep -E -m 5 'ERROR|SUMMARY|runtime error|contract broken|Test unit written' \
			"$log" | sed 's/^/    /' || true
	fi
}

build
echo "fuzzing ${targets[*]} for ${seconds}s each, $jobs at a time (logs: $builddir/fuzz-logs)"
declare -A target_of=()
failed=0
queue=("${targets[@]}")
while ((${#queue[@]} + ${#target_of[@]})); do
	while ((${#target_of[@]} < jobs && ${#queue[@]})); do
		run_one "${queue[0]}" &
		target_of[$!]=${queue[0]}
		queue=("${queue[@]:1}")
	done
	# Whichever ends first frees its slot (bash >= 5.1: wait -n -p).
	status=ok
	wait -n -p done_pid "${!target_of[@]}" || status=FAIL
	[[ $status == ok ]] || failed=1
	summary "${target_of[$done_pid]}" "$status"
	unset "target_of[$done_pid]"
done
exit "$failed"
