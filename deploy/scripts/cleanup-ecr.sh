#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Deletes the ECR repositories ecr.sh created, with their images.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

main() {
	local f name
	need aws
	for f in "$STATE_DIR"/ecr-repository-*; do
		[[ -e "$f" ]] || continue
		name=$(<"$f")
		log "deleting ECR repository $name"
		aws ecr delete-repository --repository-name "$name" --force >/dev/null
		rm -f "$f"
	done
	state_del cloudmap-sd-image
	state_del webapp-image
}

main "$@"
