# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Helpers of the step-by-step scripts, sourced after env.sh: messages, the
# state directory (what was created, for cleanup), template rendering,
# polling with a deadline, and the values derived from the settings.

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

need() {
	local tool
	for tool; do
		command -v "$tool" >/dev/null 2>&1 || die "$tool is needed: install it first"
	done
}

# State: one file per key under STATE_DIR.
state_set() {
	mkdir -p "$STATE_DIR"
	printf '%s\n' "$2" >"$STATE_DIR/$1"
}
state_get() { [[ -f "$STATE_DIR/$1" ]] && cat "$STATE_DIR/$1"; }
state_has() { [[ -s "$STATE_DIR/$1" ]]; }
state_del() { rm -f "$STATE_DIR/$1"; }
state_need() { state_has "$1" || die "no $1 yet: run $2 first"; }

# Escapes a string for the inside of a JSON string.
json_escape() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\r'/\\r}
	s=${s//$'\t'/\\t}
	printf '%s' "$s"
}

# render FILE NAME...: FILE with every ${NAME} replaced by the value of the
# variable NAME (JSON-escaped when FILE ends in .json). Other ${...} stay.
render() {
	local file=$1 name value text
	shift
	text=$(<"$file")
	for name; do
		[[ -n "${!name+set}" ]] || die "render $file: $name is not set"
		value=${!name}
		if [[ "$file" == *.json ]]; then
			value=$(json_escape "$value")
		fi
		text=${text//"\${$name}"/"$value"}
	done
	printf '%s\n' "$text"
}

# poll SECONDS INTERVAL COMMAND...: runs COMMAND until it succeeds, at most
# SECONDS long; fails when the deadline passes.
poll() {
	local timeout_sec=$1 interval_sec=$2 deadline
	shift 2
	deadline=$((SECONDS + timeout_sec))
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep "$interval_sec"
	done
}

# Cloud Map operations are asynchronous: waits for one to succeed.
operation_done() {
	local status
	status=$(aws servicediscovery get-operation --operation-id "$1" \
		--query Operation.Status --output text)
	case "$status" in
	SUCCESS) return 0 ;;
	FAIL)
		die "Cloud Map operation $1 failed: $(aws servicediscovery get-operation \
			--operation-id "$1" --query Operation.ErrorMessage --output text)"
		;;
	*) return 1 ;;
	esac
}
wait_operation() {
	log "waiting for Cloud Map operation $1"
	poll 600 5 operation_done "$1" || die "Cloud Map operation $1 did not finish in 10 minutes"
}

stack_output() {
	aws cloudformation describe-stacks --stack-name "$CLUSTER_STACK" \
		--query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# Fills in what env.sh left empty and derives names and ARNs.
resolve_settings() {
	[[ -n "$AWS_REGION" ]] || die "set AWS_REGION"
	ACCOUNT_ID=${ACCOUNT_ID:-$(aws sts get-caller-identity --query Account --output text)}
	CLUSTER_NAME=${CLUSTER_NAME:-$(stack_output ClusterName)}
	VPC_ID=${VPC_ID:-$(stack_output VpcId)}
	SUBNET_IDS=${SUBNET_IDS:-$(stack_output SubnetIds)}
	SECURITY_GROUP_ID=${SECURITY_GROUP_ID:-$(stack_output TaskSecurityGroupId)}
	TASK_ROLE_NAME=$PREFIX-cloudmap-sd-task
	REMOTE_WRITE_ROLE_NAME=$PREFIX-prometheus-remote-write
	EXECUTION_ROLE_NAME=$PREFIX-task-execution
	TASK_ROLE_ARN=arn:$PARTITION:iam::$ACCOUNT_ID:role/$TASK_ROLE_NAME
	REMOTE_WRITE_ROLE_ARN=arn:$PARTITION:iam::$ACCOUNT_ID:role/$REMOTE_WRITE_ROLE_NAME
	EXECUTION_ROLE_ARN=arn:$PARTITION:iam::$ACCOUNT_ID:role/$EXECUTION_ROLE_NAME
	NAMESPACES_PARAMETER_ARN=arn:$PARTITION:ssm:$AWS_REGION:$ACCOUNT_ID:parameter/${NAMESPACES_PARAMETER#/}
	LOG_GROUP_ARN="arn:$PARTITION:logs:$AWS_REGION:$ACCOUNT_ID:log-group:$LOG_GROUP:*"
	ECR_REPOSITORIES_ARN="arn:$PARTITION:ecr:$AWS_REGION:$ACCOUNT_ID:repository/$PREFIX*"
	export ACCOUNT_ID CLUSTER_NAME VPC_ID SUBNET_IDS SECURITY_GROUP_ID TASK_ROLE_NAME \
		REMOTE_WRITE_ROLE_NAME EXECUTION_ROLE_NAME TASK_ROLE_ARN REMOTE_WRITE_ROLE_ARN \
		EXECUTION_ROLE_ARN NAMESPACES_PARAMETER_ARN LOG_GROUP_ARN ECR_REPOSITORIES_ARN
}

# from_state NAME KEY SCRIPT: sets the variable NAME, unless already set, to
# what SCRIPT saved under KEY.
from_state() {
	local -n ref=$1
	if [[ -z "${ref:-}" ]]; then
		state_need "$2" "$3"
		ref=$(state_get "$2")
	fi
}

# --render-only DIR: the scripts that have it only write what they would
# send to AWS into DIR, which is how test/deploy checks them offline.
render_only_dir() {
	if [[ "${1:-}" == --render-only ]]; then
		[[ -n "${2:-}" ]] || die "usage: $0 [--render-only DIR]"
		printf '%s\n' "$2"
	fi
}
