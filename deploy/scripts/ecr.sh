#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds the cloudmap-sd and web app images from the repository's Dockerfile
# for PLATFORM (the container instances' architecture) and pushes them to
# two ECR repositories it creates ($PREFIX and $PREFIX-webapp). Needs Docker
# with buildx. Undone by cleanup-ecr.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/scripts/env.sh
source "$here/env.sh"
# shellcheck source=deploy/scripts/lib.sh
source "$here/lib.sh"

ensure_repository() {
	local name=$1
	if ! aws ecr describe-repositories --repository-names "$name" >/dev/null 2>&1; then
		log "creating ECR repository $name"
		aws ecr create-repository --repository-name "$name" \
			--image-scanning-configuration scanOnPush=true >/dev/null
	fi
	state_set "ecr-repository-$name" "$name"
}

build_and_push() {
	local target=$1 image=$2
	log "building $image ($target, $PLATFORM)"
	docker buildx build --platform "$PLATFORM" --target "$target" \
		--build-arg "REVISION=$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
		--tag "$image" --push "$here/../.."
}

main() {
	need aws docker
	resolve_settings
	local registry=$ACCOUNT_ID.dkr.ecr.$AWS_REGION.amazonaws.com
	local tag=${IMAGE_TAG:-latest}
	ensure_repository "$PREFIX"
	ensure_repository "$PREFIX-webapp"
	aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
	build_and_push cloudmap-sd "$registry/$PREFIX:$tag"
	build_and_push webapp "$registry/$PREFIX-webapp:$tag"
	state_set cloudmap-sd-image "$registry/$PREFIX:$tag"
	state_set webapp-image "$registry/$PREFIX-webapp:$tag"
}

main "$@"
