/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ini: a small parser for the INI dialect of the AWS shared config and
 * credentials files (~/.aws/config, ~/.aws/credentials).
 *
 * It knows nothing of profiles: it turns text into sections of key/value
 * pairs, and the credential provider decides what a section means. The
 * grammar, one line at a time:
 *
 *  - Lines end with LF; a CR before it is dropped, so CRLF files parse.
 *    Blanks are space and tab.
 *  - A blank line, or one whose first non-blank byte is '#' or ';', is
 *    ignored.
 *  - "[name]" starts a section; the name is trimmed of blanks and must not
 *    be empty. After the ']' only blanks or a comment ('#' or ';', adjacent
 *    or not) may follow.
 *  - "key = value" adds a property to the current section. The key and the
 *    value are trimmed; the value may be empty and may contain '='. In the
 *    value a '#' or ';' preceded by a blank starts a comment ("v # c" is
 *    "v"; "v;c" stays "v;c"), as in the AWS SDKs.
 *  - A line that starts with a blank right after a property (blank lines
 *    and comments between them allowed) continues that property's value:
 *    the value gets a '\n' and the trimmed line (comments cut as above).
 *    This is how sub-properties ("s3 =\n  addressing_style = path") look.
 *
 * Errors: a property before any section, a line that is neither of the
 * above (no '=', empty key, no ']', text after the ']'), or a NUL byte is
 * -EBADMSG; a line longer than INI_MAX_LINE_BYTES is -EMSGSIZE.
 *
 * Sections that repeat a name stay separate, in file order; the caller
 * decides how to merge them. Keys are compared case-insensitively (as
 * Python's configparser, which botocore uses, lower-cases them); section
 * names exactly.
 *
 * The text may hold secrets: ini_free() wipes it. A struct ini is
 * immutable once parsed and may be read from any thread.
 */
#ifndef CLOUDMAP_INI_H
#define CLOUDMAP_INI_H

#include <stddef.h>

#define INI_MAX_LINE_BYTES 4096

struct ini;

/* Parses len bytes of data (not necessarily NUL-terminated). Returns 0 and
 * a new struct ini in *ret (the caller frees it with ini_free()), -EBADMSG
 * or -EMSGSIZE as above, or -ENOMEM. */
int ini_parse(const char *data, size_t len, struct ini **ret);

/* The number of sections, counting repeated names once per occurrence. */
size_t ini_section_count(const struct ini *ini);

/* The name of section i (i < ini_section_count()); borrowed from ini. */
const char *ini_section_name(const struct ini *ini, size_t i);

/* The number of properties of section i, repeated keys counted each time. */
size_t ini_section_key_count(const struct ini *ini, size_t i);

/* Property j of section i, in file order; both strings borrowed from ini. */
void ini_section_key(const struct ini *ini, size_t i, size_t j, const char **ret_key,
		     const char **ret_value);

/* The value of key in section i (the last one when it repeats), borrowed
 * from ini, or NULL when the section has no such key. */
const char *ini_section_get(const struct ini *ini, size_t i, const char *key);

/* Wipes and frees ini; accepts NULL; returns NULL. */
struct ini *ini_free(struct ini *ini);

#endif
