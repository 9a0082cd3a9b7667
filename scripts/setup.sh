#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs everything cloudmap-sd needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are left alone. Run as root (or with sudo).
#
#   scripts/setup.sh          build + test dependencies (the default)
#   scripts/setup.sh --build  only what building the binaries needs
#   scripts/setup.sh --demo   what building and running the local demo needs (scripts/demo.sh)
set -euo pipefail

build_pkgs=(
	build-essential meson ninja-build pkg-config
	libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libssl-dev
	zlib1g-dev libcrypt-dev
	ca-certificates
)
test_pkgs=(
	python3 python3-botocore
	prometheus prometheus-node-exporter nginx-light wrk
	clang-format clang-14 libclang-rt-14-dev libfuzzer-14-dev valgrind
	shellcheck chromium curl procps iproute2
)

# The local demo: the AWS fake (Python + botocore), Debian's prometheus and node exporter.
demo_pkgs=(python3 python3-botocore prometheus prometheus-node-exporter)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" == "--demo" ]]; then
	pkgs+=("${demo_pkgs[@]}")
elif [[ "${1:-}" != "--build" ]]; then
	pkgs+=("${test_pkgs[@]}")
	# Node.js may come from another source that bundles npm; Debian's npm
	# would conflict with it, so only ask for it when there is no npm at all.
	if ! command -v npm >/dev/null 2>&1; then
		pkgs+=(nodejs npm)
	fi
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	sudo=(sudo)
fi

if ((${#missing[@]} > 0)); then
	echo "setup: installing ${missing[*]}"
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The deploy checks' tools (test/deploy): PyYAML for Debian's python3, and
# the npm linters pinned in tools/package-lock.json, installed again only
# when the lock file changed since the last install.
if [[ "${1:-}" != "--build" && "${1:-}" != "--demo" ]]; then
	if ! dpkg-query -W -f='${Status}' python3-yaml 2>/dev/null | grep -q 'install ok installed'; then
		"${sudo[@]}" apt-get update -qq
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3-yaml
	fi
	tools_dir=$(cd "$(dirname "$0")/../tools" && pwd)
	if ! cmp -s "$tools_dir/package-lock.json" "$tools_dir/node_modules/.installed-package-lock.json"; then
		echo "setup: installing the npm tools in $tools_dir"
		npm ci --prefix "$tools_dir" --no-audit --no-fund
		cp "$tools_dir/package-lock.json" "$tools_dir/node_modules/.installed-package-lock.json"
	fi
fi
