#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Starts the ECS services: the web app (awsvpc, registered in webapp-svc),
# node exporter (host network, one per container instance: the daemon
# strategy, registered in node-exporter-svc with SRV records) and one
# Prometheus service per shard with REPLICAS tasks each (2 = an HA pair).
# Waits until all are stable. Run task-definitions.sh and cloudmap.sh
# first. Undone by cleanup-ecs.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

service_active() {
	[[ "$(aws ecs describe-services --cluster "$CLUSTER_NAME" --services "$1" \
		--query 'services[0].status' --output text)" == ACTIVE ]]
}

# create_service NAME TASK_DEFINITION_KEY ARGS...
create_service() {
	local name=$1 key=$2
	shift 2
	state_need "task-definition-$key" task-definitions.sh
	if service_active "$name"; then
		log "service $name exists: updating its task definition"
		aws ecs update-service --cluster "$CLUSTER_NAME" --service "$name" \
			--task-definition "$(state_get "task-definition-$key")" >/dev/null
	else
		log "creating service $name"
		aws ecs create-service --cluster "$CLUSTER_NAME" --service-name "$name" \
			--task-definition "$(state_get "task-definition-$key")" \
			--launch-type EC2 "$@" >/dev/null
	fi
	state_set "service-$name" "$name"
}

main() {
	local network shard names=()
	need aws
	resolve_settings
	state_need webapp-service-arn cloudmap.sh
	network="awsvpcConfiguration={subnets=[$SUBNET_IDS],securityGroups=[$SECURITY_GROUP_ID],assignPublicIp=DISABLED}"
	create_service "$PREFIX-webapp" webapp --desired-count "$WEBAPP_COUNT" \
		--network-configuration "$network" \
		--service-registries "registryArn=$(state_get webapp-service-arn)"
	names+=("$PREFIX-webapp")
	create_service "$PREFIX-node-exporter" node-exporter --scheduling-strategy DAEMON \
		--service-registries "registryArn=$(state_get node-exporter-service-arn),containerName=node-exporter,containerPort=9100"
	names+=("$PREFIX-node-exporter")
	for ((shard = 0; shard < SHARDS; shard++)); do
		create_service "$PREFIX-prometheus-shard-$shard" "prometheus-shard-$shard" \
			--desired-count "$REPLICAS" --network-configuration "$network" \
			--deployment-configuration maximumPercent=200,minimumHealthyPercent=100 \
			--placement-strategy type=spread,field=attribute:ecs.availability-zone
		names+=("$PREFIX-prometheus-shard-$shard")
	done
	log "waiting until ${names[*]} are stable"
	aws ecs wait services-stable --cluster "$CLUSTER_NAME" --services "${names[@]}"
}

main "$@"
