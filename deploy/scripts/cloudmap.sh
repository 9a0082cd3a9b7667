#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Creates the Cloud Map private DNS namespace and the two services the ECS
# services register in, tagged METRICS_PATH/METRICS_PORT so cloudmap-sd
# turns their instances into targets, and the SSM parameter naming the
# namespaces cloudmap-sd discovers. Waits for each Cloud Map operation.
# Running it again creates nothing twice. Undone by cleanup-cloudmap.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

create_namespace() {
	local op id
	if state_has namespace-id; then
		log "namespace $NAMESPACE_NAME exists: $(state_get namespace-id)"
		return
	fi
	log "creating namespace $NAMESPACE_NAME in $VPC_ID"
	op=$(aws servicediscovery create-private-dns-namespace --name "$NAMESPACE_NAME" \
		--vpc "$VPC_ID" --query OperationId --output text)
	wait_operation "$op"
	id=$(aws servicediscovery get-operation --operation-id "$op" \
		--query Operation.Targets.NAMESPACE --output text)
	state_set namespace-id "$id"
}

# create_service KEY NAME RECORD_TYPE METRICS_PORT
create_service() {
	local key=$1 name=$2 type=$3 port=$4 arn
	if state_has "$key-arn"; then
		log "service $name exists"
		return
	fi
	log "creating service $name ($type records, metrics on port $port)"
	arn=$(aws servicediscovery create-service --name "$name" \
		--namespace-id "$(state_get namespace-id)" \
		--dns-config "RoutingPolicy=MULTIVALUE,DnsRecords=[{Type=$type,TTL=10}]" \
		--health-check-custom-config FailureThreshold=1 \
		--tags Key=METRICS_PATH,Value=/metrics "Key=METRICS_PORT,Value=$port" \
		--query Service.Arn --output text)
	state_set "$key-arn" "$arn"
	state_set "$key-id" "${arn##*/}"
}

create_parameter() {
	log "setting parameter $NAMESPACES_PARAMETER to $NAMESPACE_NAME"
	aws ssm put-parameter --name "$NAMESPACES_PARAMETER" --type String \
		--value "$NAMESPACE_NAME" --overwrite >/dev/null
	state_set namespaces-parameter "$NAMESPACES_PARAMETER"
}

main() {
	need aws
	resolve_settings
	create_namespace
	create_service webapp-service webapp-svc A 3000
	create_service node-exporter-service node-exporter-svc SRV 9100
	create_parameter
}

main "$@"
