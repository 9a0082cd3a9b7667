# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Settings of the step-by-step scripts, sourced by each of them. Change them
# here or export them before running a script; a value already set in the
# environment wins. Values left empty are looked up with the AWS CLI (the
# account, the region, the cluster stack's outputs) only when needed.

# The AWS side.
AWS_REGION=${AWS_REGION:-$(aws configure get region || true)}
ACCOUNT_ID=${ACCOUNT_ID:-}
PARTITION=${PARTITION:-aws}

# The cluster, made with deploy/cloudformation/cluster.yaml: its stack name,
# and what the scripts read from its outputs unless set here.
CLUSTER_STACK=${CLUSTER_STACK:-cloudmap-sd-cluster}
CLUSTER_NAME=${CLUSTER_NAME:-}
VPC_ID=${VPC_ID:-}
SUBNET_IDS=${SUBNET_IDS:-}             # comma separated, private subnets
SECURITY_GROUP_ID=${SECURITY_GROUP_ID:-} # the awsvpc tasks' group

# What the scripts create; names start with PREFIX so cleanup finds them.
PREFIX=${PREFIX:-cloudmap-sd}
NAMESPACE_NAME=${NAMESPACE_NAME:-ecs-services}
# The Go side-car's parameter name, so its users keep theirs.
NAMESPACES_PARAMETER=${NAMESPACES_PARAMETER:-ECS-ServiceDiscovery-Namespaces}
LOG_GROUP=${LOG_GROUP:-/ecs/$PREFIX}

# Images: ecr.sh builds and pushes the first two and sets them.
CLOUDMAP_SD_IMAGE=${CLOUDMAP_SD_IMAGE:-}
WEBAPP_IMAGE=${WEBAPP_IMAGE:-}
PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-quay.io/prometheus/prometheus:v2.53.2}
NODE_EXPORTER_IMAGE=${NODE_EXPORTER_IMAGE:-quay.io/prometheus/node-exporter:v1.8.2}
PLATFORM=${PLATFORM:-linux/amd64} # the container instances' architecture

# Prometheus: shards, replicas per shard (2 = an HA pair for AMP), intervals.
SHARDS=${SHARDS:-1}
REPLICAS=${REPLICAS:-1}
WEBAPP_COUNT=${WEBAPP_COUNT:-2}
SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-30s}
REFRESH_INTERVAL=${REFRESH_INTERVAL:-30s}

# Where the scripts remember what they created (for cleanup).
STATE_DIR=${STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/cloudmap-sd-deploy/$PREFIX}

export AWS_REGION ACCOUNT_ID PARTITION CLUSTER_STACK CLUSTER_NAME VPC_ID SUBNET_IDS \
	SECURITY_GROUP_ID PREFIX NAMESPACE_NAME NAMESPACES_PARAMETER LOG_GROUP \
	CLOUDMAP_SD_IMAGE WEBAPP_IMAGE PROMETHEUS_IMAGE NODE_EXPORTER_IMAGE PLATFORM \
	SHARDS REPLICAS WEBAPP_COUNT SCRAPE_INTERVAL REFRESH_INTERVAL STATE_DIR
