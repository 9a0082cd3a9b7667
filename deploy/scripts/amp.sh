#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Creates the Amazon Managed Service for Prometheus workspace Prometheus
# remote-writes to, and waits until it is active. Prints the URL to add as a
# data source in Amazon Managed Grafana. Undone by cleanup-amp.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

main() {
	local id
	need aws
	resolve_settings
	if state_has workspace-id; then
		id=$(state_get workspace-id)
		log "workspace exists: $id"
	else
		log "creating AMP workspace $PREFIX"
		id=$(aws amp create-workspace --alias "$PREFIX" --query workspaceId --output text)
		state_set workspace-id "$id"
	fi
	aws amp wait workspace-active --workspace-id "$id"
	state_set workspace-arn "$(aws amp describe-workspace --workspace-id "$id" \
		--query workspace.arn --output text)"
	state_set workspace-endpoint "$(aws amp describe-workspace --workspace-id "$id" \
		--query workspace.prometheusEndpoint --output text)"
	log "Grafana data source URL: $(state_get workspace-endpoint)"
}

main "$@"
