/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fakeaws.h: the C side of the AWS fakes' admin API (test/fake/README.md),
 * for integration tests run by test/fake/run-with-fakes.py, which exports
 * FAKE_ADMIN_URL, FAKE_AWS_URL, FAKE_ECS_URL and FAKE_IMDS_URL.
 */
#ifndef CLOUDMAP_TEST_FAKEAWS_H
#define CLOUDMAP_TEST_FAKEAWS_H

#include <jansson.h>

/* Calls route ("faults", "calls/reset", ...) with an optional JSON body.
 * Returns the JSON answer (a new reference) when the fake answered 200,
 * else NULL after printing why as a TAP comment. */
json_t *fake_admin(const char *method, const char *route, const char *body);

/* POSTs a printf-formatted JSON body. Returns 0, or -1 (and says why). */
int fake_post(const char *route, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Accepted calls of an AWS operation since the last "calls/reset". */
long long fake_calls(const char *operation);

/* How many AWS requests the fake rejected (bad signature, invalid input);
 * prints each one as a TAP comment. Every test should end with 0. */
long long fake_rejections(void);

#endif
