#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Deletes the roles iam.sh created, with their inline policies.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

main() {
	local f name
	need aws
	for f in "$STATE_DIR"/role-*; do
		[[ -e "$f" ]] || continue
		name=$(<"$f")
		log "deleting role $name"
		aws iam delete-role-policy --role-name "$name" --policy-name "$name" || true
		aws iam delete-role --role-name "$name"
		rm -f "$f"
	done
}

main "$@"
