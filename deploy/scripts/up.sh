#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The whole step-by-step path in order, for a cluster made with
# deploy/cloudformation/cluster.yaml: images (unless CLOUDMAP_SD_IMAGE and
# WEBAPP_IMAGE are set), Cloud Map, AMP, IAM, task definitions, services.
# Each step can be run alone and again; cleanup.sh undoes them all.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"

if [[ -z "$CLOUDMAP_SD_IMAGE" || -z "$WEBAPP_IMAGE" ]]; then
	"$here/ecr.sh"
fi
"$here/cloudmap.sh"
"$here/amp.sh"
"$here/iam.sh"
"$here/task-definitions.sh"
"$here/services.sh"
