#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Removes what cloudmap.sh created: the two Cloud Map services (once ECS has
# deregistered their instances: run cleanup-ecs.sh first), the namespace
# (waiting for the operation) and the namespaces parameter.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

no_instances() {
	[[ "$(aws servicediscovery list-instances --service-id "$1" \
		--query 'length(Instances)' --output text)" == 0 ]]
}

delete_service() {
	local key=$1 id
	state_has "$key-id" || return 0
	id=$(state_get "$key-id")
	log "waiting until service $id has no instances"
	poll 300 5 no_instances "$id" || die "service $id still has instances: run cleanup-ecs.sh first"
	aws servicediscovery delete-service --id "$id"
	state_del "$key-id"
	state_del "$key-arn"
}

main() {
	local op
	need aws
	resolve_settings
	delete_service webapp-service
	delete_service node-exporter-service
	if state_has namespace-id; then
		log "deleting namespace $(state_get namespace-id)"
		op=$(aws servicediscovery delete-namespace --id "$(state_get namespace-id)" \
			--query OperationId --output text)
		wait_operation "$op"
		state_del namespace-id
	fi
	if state_has namespaces-parameter; then
		aws ssm delete-parameter --name "$(state_get namespaces-parameter)"
		state_del namespaces-parameter
	fi
}

main "$@"
