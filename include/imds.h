/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imds: a client of the EC2 instance metadata service, IMDSv2 first.
 *
 * It asks for a session token with PUT /latest/api/token and the header
 * X-aws-ec2-metadata-token-ttl-seconds, and sends it as
 * X-aws-ec2-metadata-token on every GET. When the token call answers 403,
 * 404 or 405, or times out, it falls back to IMDSv1 (GET without a token),
 * as the SDKs do. The token is cached until shortly before its TTL ends.
 *
 * Environment (read through the creds_context's getenv):
 *  - AWS_EC2_METADATA_DISABLED=true: imds_new() answers -ENOENT;
 *  - AWS_EC2_METADATA_SERVICE_ENDPOINT: the base URL instead of
 *    http://169.254.169.254.
 *
 * Used by the IMDS credential provider and by region resolution; one thread
 * at a time.
 */
#ifndef CLOUDMAP_IMDS_H
#define CLOUDMAP_IMDS_H

#include "buf.h"
#include "creds.h"

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_TTL_SEC    21600
#define IMDS_TIMEOUT_MS	      1000L

struct imds;

/* Returns 0 and a new client in *ret, -ENOENT when IMDS is disabled, -EINVAL
 * for a bad endpoint, or -ENOMEM. ctx is borrowed and must outlive it. */
int imds_new(const struct creds_context *ctx, struct imds **ret);

/* GETs path (e.g. "/latest/meta-data/placement/region") and appends the body
 * to out. Returns 0, -ENOENT on 404, -EACCES on 401/403, -EPROTO on another
 * status, or a transport error from http.h. */
int imds_get(struct imds *m, const char *path, struct buf *out);

/* Frees m; accepts NULL; returns NULL. */
struct imds *imds_free(struct imds *m);

#endif
