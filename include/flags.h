/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flags: a table-driven command-line and environment parser with the
 * conventions of the Prometheus exporters (kingpin).
 *
 * A program describes its flags once, in a static table of struct
 * flags_spec: name, type, where the value goes (an offset into the
 * program's own config struct), default, bounds and help. flags_parse()
 * then fills that struct from, in order of precedence, the command line,
 * the environment (prefix + the name upper-cased, '.' and '-' as '_', e.g.
 * CLOUDMAP_SD_REFRESH_INTERVAL) and the default.
 *
 * Command line: long flags only, "--name=value" or "--name value";
 * booleans as "--name", "--name=true|false" or "--no-name". A flag may be
 * given once. "--help" (or "-h") and "--version" are built in. There are no
 * positional arguments. An empty environment variable counts as unset.
 *
 * The module prints nothing: errors come back as one line of text in a
 * struct flags_error, and the usage page is formatted into a struct buf.
 * Thread-safety: none needed; call it from main before threads start.
 */
#ifndef CLOUDMAP_FLAGS_H
#define CLOUDMAP_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Longest value accepted from either source, in bytes. */
#define FLAGS_VALUE_MAX 4096
/* Items in a FLAGS_LIST when the spec sets no max_items. */
#define FLAGS_LIST_DEFAULT_MAX_ITEMS 64
/* Longest environment variable name flags_env_name() builds. */
#define FLAGS_ENV_NAME_MAX 128

enum flags_type {
	FLAGS_STRING,	      /* char *; NULL when empty */
	FLAGS_BOOL,	      /* bool */
	FLAGS_UINT,	      /* unsigned int, within [min, max] */
	FLAGS_DURATION,	      /* uint64_t milliseconds, within [min, max] */
	FLAGS_ENUM,	      /* int: the index of the value in choices */
	FLAGS_LIST,	      /* struct flags_list: comma-separated, trimmed */
	FLAGS_LISTEN_ADDRESS, /* struct flags_listen_address */
	FLAGS_URL_PATH,	      /* char *, starts with '/'; NULL when empty */
	FLAGS_FILE_PATH,      /* char *; NULL when empty */
	FLAGS_HTTP_URL,	      /* char *, an http:// or https:// URL; NULL when empty */
};

/* A FLAGS_LIST value: n items, each a non-empty, trimmed, distinct string. */
struct flags_list {
	char **items;
	size_t n;
};

/* A FLAGS_LISTEN_ADDRESS value: "host:port", ":port" or "[v6]:port". */
struct flags_listen_address {
	char *host;	   /* without brackets; NULL for ":port" (every interface) */
	unsigned int port; /* 1..65535 */
};

/* One flag. Tables are static and outlive every call. */
struct flags_spec {
	const char *name; /* without "--", e.g. "refresh.interval" */
	enum flags_type type;
	size_t offset;		    /* offsetof() the value in the destination */
	const char *def;	    /* default, as on the command line; NULL: none */
	const char *help;	    /* for flags_usage() */
	const char *placeholder;    /* NULL: one derived from the type */
	uint64_t min, max;	    /* FLAGS_UINT, FLAGS_DURATION (ms); max 0: none */
	const char *const *choices; /* FLAGS_ENUM: NULL-terminated */
	size_t max_items;	    /* FLAGS_LIST; 0: FLAGS_LIST_DEFAULT_MAX_ITEMS */
	bool nonempty;		    /* refuse an empty value (strings, paths, lists) */
};

/* A program's flags. */
struct flags_set {
	const char *program;	/* for the usage line, e.g. "cloudmap-sd" */
	const char *summary;	/* one paragraph for flags_usage() */
	const char *env_prefix; /* e.g. "CLOUDMAP_SD_" */
	bool has_version;	/* accept --version */
	const struct flags_spec *specs;
	size_t n_specs;
	size_t dest_size; /* sizeof the destination struct */
};

/* Environment lookup, injectable for tests; getenv() semantics. */
typedef const char *(*flags_getenv_fn)(const char *name, void *userdata);

/* What to parse. Borrowed for the duration of the call. */
struct flags_input {
	int argc;
	char *const *argv;	/* argv[0] is the program and is skipped */
	flags_getenv_fn getenv; /* NULL: getenv() */
	void *getenv_userdata;
};

enum flags_action {
	FLAGS_RUN,     /* parsed: run the program */
	FLAGS_HELP,    /* --help: print flags_usage() to stdout, exit 0 */
	FLAGS_VERSION, /* --version: print the version to stdout, exit 0 */
};

/* One line, lowercase, no full stop, naming the flag or the environment
 * variable and the value, e.g.
 * invalid value "3x" for --refresh.interval: not a duration (use e.g. 30s, 5m, 1h) */
struct flags_error {
	char msg[512];
};

/* Parses in->argv and the environment into dest, a struct of
 * set->dest_size bytes laid out as the specs' offsets say.
 *
 * Returns 0 and *ret_action. With FLAGS_RUN, every field the table names is
 * set in dest (fields it does not name are left alone) and the caller owns
 * the strings and lists: free them with flags_done(). With FLAGS_HELP or
 * FLAGS_VERSION dest is untouched.
 * Returns -EINVAL (a bad command line, environment or default; err says
 * which) or -ENOMEM; dest is then untouched. */
int flags_parse(const struct flags_set *set, const struct flags_input *in, void *dest,
		enum flags_action *ret_action, struct flags_error *err);

/* Frees the strings and lists the table names in dest and sets them to
 * NULL / empty; safe on a zeroed struct and when called twice. */
void flags_done(const struct flags_set *set, void *dest);

/* Checks a table: names well-formed ([a-z0-9.-], not "help", "version" or
 * "no-..."), distinct, a bool's name not another's "no-" form, enums with
 * choices. Returns 0, or -EINVAL with err naming the problem. For tests. */
int flags_check(const struct flags_set *set, struct flags_error *err);

/* Appends the usage page to out: a usage line, the summary, then each flag
 * in table order with its placeholder, help, default and environment
 * variable, wrapped to 100 columns. Returns 0 or an error from buf. */
int flags_usage(const struct flags_set *set, struct buf *out);

/* Writes the environment variable of spec into out (e.g.
 * "CLOUDMAP_SD_WEB_LISTEN_ADDRESS"). Returns 0 or -ERANGE. */
int flags_env_name(const struct flags_set *set, const struct flags_spec *spec, char *out,
		   size_t out_size);

/* Parses a Prometheus duration: an optional sequence of <digits><unit>,
 * units in this order and each at most once: y (365d), w, d, h, m, s, ms;
 * "0" alone is zero. Examples: "500ms", "1h30m", "90s", "1d". Returns 0 and
 * *ret_ms, -EINVAL when s is not a duration (empty, negative, no unit, a
 * fraction, units out of order) or -ERANGE past INT64_MAX milliseconds. */
int flags_parse_duration(const char *s, uint64_t *ret_ms);

/* Formats ms as flags_parse_duration() reads it, largest units first
 * ("1h30m", "500ms", "0s"). Returns 0 or -ERANGE when out is too small. */
int flags_format_duration(uint64_t ms, char *out, size_t out_size);

#endif
