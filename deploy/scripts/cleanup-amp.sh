#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Deletes the AMP workspace amp.sh created, with the metrics it holds.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

main() {
	local id
	need aws
	state_has workspace-id || return 0
	id=$(state_get workspace-id)
	log "deleting AMP workspace $id"
	aws amp delete-workspace --workspace-id "$id"
	aws amp wait workspace-deleted --workspace-id "$id"
	state_del workspace-id
	state_del workspace-arn
	state_del workspace-endpoint
}

main "$@"
