/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region: which AWS region the daemon works in.
 *
 * Sources, in order; the first that is present decides:
 *  1. AWS_REGION                      (source "AWS_REGION")
 *  2. AWS_DEFAULT_REGION              (source "AWS_DEFAULT_REGION")
 *  3. the ECS task metadata endpoint  (source "ecs-metadata"), when
 *     ECS_CONTAINER_METADATA_URI_V4 is set: GET <uri>/task, the region of
 *     "TaskARN" (arn:<partition>:ecs:<region>:<account>:task/...), else the
 *     region of "AvailabilityZone" (the zone name up to its first number:
 *     us-east-1a and us-west-2-lax-1a give us-east-1 and us-west-2)
 *  4. EC2 instance metadata           (source "imds"):
 *     /latest/meta-data/placement/region
 *
 * An empty variable counts as unset. A source that is present but wrong (a
 * bad region name, an ECS endpoint that fails) is an error, not a reason to
 * ask the next one, so a misconfiguration does not go unnoticed.
 *
 * Used by main while it starts, before any other thread runs.
 */
#ifndef CLOUDMAP_REGION_H
#define CLOUDMAP_REGION_H

#include <stdbool.h>

#include "creds.h"

/* The longest region name accepted; real ones are under 20 characters. */
#define REGION_NAME_MAX 32

/* Whether name looks like a region: 1 to REGION_NAME_MAX lowercase letters,
 * digits and dashes, starting with a letter, ending with a letter or digit,
 * no two dashes in a row. NULL is not valid. */
bool region_is_valid(const char *name);

/* Resolves the region from the sources above, through ctx's getenv, clock
 * and http (when ctx->http is NULL only the environment is read). Returns
 * 0, in *ret_region a new string the caller frees and in *ret_source (when
 * not NULL) the static name of the source; -ENOENT when no source knows
 * (IMDS disabled, unreachable, or without the path); -EINVAL for a bad
 * region name in the environment or a bad ECS_CONTAINER_METADATA_URI_V4;
 * -EBADMSG when ECS or IMDS answered something that holds no valid region;
 * -EPROTO for an unexpected HTTP status from ECS; -ENOMEM; a transport error
 * from http.h while asking ECS; or another error of imds_new() / imds_get()
 * (e.g. -EINVAL for a bad AWS_EC2_METADATA_SERVICE_ENDPOINT, -EACCES). */
int region_resolve(const struct creds_context *ctx, char **ret_region, const char **ret_source);

#endif
