/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encoding: content negotiation on Accept-Encoding (RFC 9110, 12.5.3), for
 * the one coding cloudmap-sd can send besides identity: gzip.
 *
 * The header is a list of codings, each with an optional weight ";q=V"
 * (V from 0 to 1, at most three decimals); names and "q" are compared
 * case-insensitively, "x-gzip" means gzip, "*" stands for every coding not
 * listed. gzip is chosen when its weight (listed, else that of "*", else 0)
 * is above 0 and not below the weight identity is explicitly given, if
 * any: "gzip;q=0" refuses it, "gzip;q=0.5, identity" prefers identity,
 * "gzip;q=0.5" alone takes it. An element with a malformed weight is
 * ignored.
 *
 * Pure; thread-safe.
 */
#ifndef CLOUDMAP_ENCODING_H
#define CLOUDMAP_ENCODING_H

#include <stdbool.h>

/* Whether to answer with gzip given this Accept-Encoding value (NULL: the
 * header is absent, so identity). */
bool encoding_accepts_gzip(const char *accept_encoding);

#endif
