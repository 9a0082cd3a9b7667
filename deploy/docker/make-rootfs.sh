#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Assembles the whole file system of a runtime image in a directory: the
# given binaries (stripped) in /usr/local/bin, every shared library they load
# (their ldd closure, at the paths the dynamic loader looks in), the CA
# bundle, and the few /etc files a process expects (passwd, group,
# nsswitch.conf). The Dockerfile's runtime stages are FROM scratch plus this
# directory; deploy/README.md measures the image size with it, and
# test/deploy/check-rootfs.sh runs a binary inside it with chroot.
#
# Nothing here names an architecture: ldd reports the loader and library
# paths of the machine it runs on.
#
#   deploy/docker/make-rootfs.sh OUTDIR BINARY...
set -euo pipefail

usage() {
	echo "usage: $0 OUTDIR BINARY..." >&2
	exit 2
}

# The absolute paths of the libraries (and the loader) a binary needs.
shared_libraries() {
	local bin=$1 line
	local -a words
	ldd "$bin" | while IFS= read -r line; do
		read -r -a words <<<"$line"
		if [[ "${words[1]:-}" == "=>" && "${words[2]:-}" == /* ]]; then
			echo "${words[2]}"
		elif [[ "${words[0]:-}" == /* ]]; then
			echo "${words[0]}"
		elif [[ "$line" == *"not found"* ]]; then
			echo "make-rootfs: $bin: $line" >&2
			return 1
		fi
	done
}

copy_library() {
	local lib=$1 out=$2
	mkdir -p "$out$(dirname "$lib")"
	cp -L "$lib" "$out$lib"
}

write_etc() {
	local out=$1
	mkdir -p "$out/etc/ssl/certs" "$out/tmp"
	chmod 1777 "$out/tmp"
	cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
	printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
		'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' >"$out/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$out/etc/group"
	printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$out/etc/nsswitch.conf"
}

main() {
	(($# >= 2)) || usage
	local out=$1 bin libs lib
	shift
	mkdir -p "$out/usr/local/bin"
	for bin in "$@"; do
		strip --strip-unneeded -o "$out/usr/local/bin/$(basename "$bin")" "$bin"
		libs=$(shared_libraries "$bin")
		for lib in $libs; do
			copy_library "$lib" "$out"
		done
	done
	write_etc "$out"
}

main "$@"
