#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Removes everything the step-by-step scripts created, in the reverse order:
# ECS services and task definitions, Cloud Map, AMP, IAM, ECR. The cluster
# stack (and the network stack) are CloudFormation's to delete: see
# deploy/README.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

"$here/cleanup-ecs.sh"
"$here/cleanup-cloudmap.sh"
"$here/cleanup-amp.sh"
"$here/cleanup-iam.sh"
"$here/cleanup-ecr.sh"
