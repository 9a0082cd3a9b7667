#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Removes what services.sh and task-definitions.sh created: deletes the ECS
# services (and waits until they are gone, so ECS has deregistered their
# Cloud Map instances), deregisters and deletes the task definitions, and
# deletes the log group.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

delete_services() {
	local f names=()
	for f in "$STATE_DIR"/service-*; do
		[[ -e "$f" ]] || continue
		names+=("$(<"$f")")
	done
	((${#names[@]} > 0)) || return 0
	for f in "${names[@]}"; do
		log "deleting service $f"
		aws ecs delete-service --cluster "$CLUSTER_NAME" --service "$f" --force >/dev/null ||
			log "service $f: already gone"
	done
	log "waiting until ${names[*]} are inactive"
	aws ecs wait services-inactive --cluster "$CLUSTER_NAME" --services "${names[@]}"
	for f in "${names[@]}"; do
		state_del "service-$f"
	done
}

delete_task_definitions() {
	local f arn
	for f in "$STATE_DIR"/task-definition-*; do
		[[ -e "$f" ]] || continue
		arn=$(<"$f")
		log "deregistering $arn"
		aws ecs deregister-task-definition --task-definition "$arn" >/dev/null || true
		aws ecs delete-task-definitions --task-definitions "$arn" >/dev/null || true
		rm -f "$f"
	done
}

main() {
	need aws
	resolve_settings
	delete_services
	delete_task_definitions
	if state_has log-group; then
		log "deleting log group $LOG_GROUP"
		aws logs delete-log-group --log-group-name "$LOG_GROUP" || true
		state_del log-group
	fi
}

main "$@"
