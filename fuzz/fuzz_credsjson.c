/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_credsjson: creds_from_json() (creds_providers.h), the reader of the
 * credentials JSON that the ECS container endpoint and IMDS answer. The
 * whole input is the body.
 *
 * Checked: only the documented returns (0, -EBADMSG, -EACCES, -ENOMEM),
 * *ret untouched on failure, and on success credentials with non-empty
 * keys, the provider's name and an expiry (Expiration is required).
 */
#include <errno.h>
#include <string.h>

#include "creds.h"
#include "creds_providers.h"
#include "fuzz.h"

#define FUZZ_SENTINEL ((struct creds *)0x5a5a)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct creds *c = FUZZ_SENTINEL;
	int r;

	r = creds_from_json((const char *)data, size, "ecs", &c);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EACCES || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(c == FUZZ_SENTINEL);
		return 0;
	}
	FUZZ_CHECK(c->access_key_id[0] && c->secret_access_key[0]);
	FUZZ_CHECK(!c->session_token || c->session_token[0]);
	FUZZ_CHECK(strcmp(c->provider, "ecs") == 0);
	creds_unref(c);
	return 0;
}
