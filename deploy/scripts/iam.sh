#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Creates the three IAM roles, each with only what it needs:
#   $PREFIX-cloudmap-sd-task        the Prometheus tasks' task role, so
#                                   cloudmap-sd's: Cloud Map reads and
#                                   ssm:GetParameter on its parameter
#   $PREFIX-prometheus-remote-write assumed by Prometheus (sigv4 role_arn):
#                                   aps:RemoteWrite on the workspace
#   $PREFIX-task-execution          pulls the images and writes the logs
# Run amp.sh first (the remote-write policy names the workspace). Undone by
# cleanup-iam.sh. With --render-only DIR it only writes the policy
# documents into DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

# The roles: the variable holding each name, its trust and its policy.
ROLES=(
	"TASK_ROLE_NAME ecs-tasks-trust.json cloudmap-sd-policy.json"
	"EXECUTION_ROLE_NAME ecs-tasks-trust.json task-execution-policy.json"
	"REMOTE_WRITE_ROLE_NAME prometheus-trust.json prometheus-remote-write-policy.json"
)

# Writes the rendered documents and roles.json (which role gets which) to DIR.
render_policies() {
	local dir=$1 vars=(ACCOUNT_ID NAMESPACES_PARAMETER_ARN TASK_ROLE_ARN WORKSPACE_ARN
		ECR_REPOSITORIES_ARN LOG_GROUP_ARN) f role name trust policy sep=''
	mkdir -p "$dir"
	for f in "$here"/iam/*.json; do
		render "$f" "${vars[@]}" >"$dir/${f##*/}"
	done
	{
		printf '['
		for role in "${ROLES[@]}"; do
			read -r name trust policy <<<"$role"
			printf '%s\n  {"name": "%s", "arn": "arn:%s:iam::%s:role/%s", "trust": "%s", "policy": "%s"}' \
				"$sep" "${!name}" "$PARTITION" "$ACCOUNT_ID" "${!name}" "$trust" "$policy"
			sep=,
		done
		printf '\n]\n'
	} >"$dir/roles.json"
}

role_exists() { aws iam get-role --role-name "$1" >/dev/null 2>&1; }

# create_role NAME TRUST POLICY: trust and policy are rendered files.
create_role() {
	local name=$1 trust=$2 policy=$3
	if ! role_exists "$name"; then
		log "creating role $name"
		# A trust policy naming a role created a moment ago can be refused
		# until IAM has propagated it: retry for a minute.
		poll 60 5 aws iam create-role --role-name "$name" \
			--assume-role-policy-document "file://$trust" >/dev/null ||
			die "cannot create role $name"
		aws iam wait role-exists --role-name "$name"
	fi
	state_set "role-$name" "$name"
	aws iam put-role-policy --role-name "$name" --policy-name "$name" \
		--policy-document "file://$policy"
}

main() {
	local dir role name trust policy
	dir=$(render_only_dir "$@")
	[[ -n "$dir" ]] || need aws
	resolve_settings
	from_state WORKSPACE_ARN workspace-arn amp.sh
	if [[ -n "$dir" ]]; then
		render_policies "$dir"
		return
	fi
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	render_policies "$dir"
	for role in "${ROLES[@]}"; do
		read -r name trust policy <<<"$role"
		create_role "${!name}" "$dir/$trust" "$dir/$policy"
	done
}

main "$@"
