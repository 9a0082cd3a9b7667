#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Registers the task definitions: the web app, node exporter, and one
# Prometheus + cloudmap-sd task per shard (SHARDS), each with its Prometheus
# configuration rendered from deploy/prometheus/prometheus-http-sd.yml into
# the PROMETHEUS_CONFIG variable. Creates the log group they write to. Run
# iam.sh and amp.sh first. Undone by cleanup-ecs.sh. With --render-only DIR
# it only writes the task definitions (JSON, as register-task-definition
# takes them) into DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

# render reads its variables by name: shellcheck cannot see the uses.
# shellcheck disable=SC2034
prometheus_config() {
	local SHARD=$1 CLUSTER_LABEL=$PREFIX-shard-$1 REMOTE_WRITE_URL
	REMOTE_WRITE_URL=${WORKSPACE_ENDPOINT%/}/api/v1/remote_write
	render "$here/../prometheus/prometheus-http-sd.yml" SCRAPE_INTERVAL CLUSTER_LABEL SHARD \
		SHARDS REFRESH_INTERVAL REMOTE_WRITE_URL AWS_REGION REMOTE_WRITE_ROLE_ARN
}

# shellcheck disable=SC2034
render_all() {
	local dir=$1 shard PROMETHEUS_CONFIG SHARD
	local common=(PREFIX EXECUTION_ROLE_ARN LOG_GROUP AWS_REGION)
	mkdir -p "$dir"
	render "$here/task-definitions/webapp.json" "${common[@]}" WEBAPP_IMAGE >"$dir/webapp.json"
	render "$here/task-definitions/node-exporter.json" "${common[@]}" NODE_EXPORTER_IMAGE \
		>"$dir/node-exporter.json"
	for ((shard = 0; shard < SHARDS; shard++)); do
		SHARD=$shard
		PROMETHEUS_CONFIG=$(prometheus_config "$shard")
		render "$here/task-definitions/prometheus.json" "${common[@]}" SHARD TASK_ROLE_ARN \
			CLOUDMAP_SD_IMAGE PROMETHEUS_IMAGE NAMESPACES_PARAMETER REFRESH_INTERVAL \
			PROMETHEUS_CONFIG >"$dir/prometheus-shard-$shard.json"
	done
}

create_log_group() {
	if ! state_has log-group; then
		log "creating log group $LOG_GROUP"
		aws logs create-log-group --log-group-name "$LOG_GROUP"
		aws logs put-retention-policy --log-group-name "$LOG_GROUP" --retention-in-days 7
		state_set log-group "$LOG_GROUP"
	fi
}

register_all() {
	local dir=$1 f name arn
	for f in "$dir"/*.json; do
		name=${f##*/}
		name=${name%.json}
		arn=$(aws ecs register-task-definition --cli-input-json "file://$f" \
			--query taskDefinition.taskDefinitionArn --output text)
		log "registered $arn"
		state_set "task-definition-$name" "$arn"
	done
}

main() {
	local dir
	dir=$(render_only_dir "$@")
	[[ -n "$dir" ]] || need aws
	[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || die "SHARDS must be a positive number"
	resolve_settings
	from_state WORKSPACE_ENDPOINT workspace-endpoint amp.sh
	from_state CLOUDMAP_SD_IMAGE cloudmap-sd-image ecr.sh
	from_state WEBAPP_IMAGE webapp-image ecr.sh
	if [[ -n "$dir" ]]; then
		render_all "$dir"
		return
	fi
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	render_all "$dir"
	create_log_group
	register_all "$dir"
}

main "$@"
