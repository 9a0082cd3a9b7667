/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flags: table-driven command line and environment parsing. See
 * include/flags.h.
 *
 * Two passes: the first walks argv, matching each argument to a spec and
 * remembering its raw value (or the help/version action); the second takes,
 * for every spec, the command-line value, else the environment's, else the
 * default, and converts it into a scratch copy of the destination, which is
 * copied out only when every flag parsed. Called from main only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flags.h"

#define FLAGS_USAGE_WIDTH  100
#define FLAGS_HELP_INDENT  6
#define FLAGS_SHOWN_MAX	   80 /* bytes of a bad value quoted in an error */
#define FLAGS_HOSTNAME_MAX 253

/* Where a raw value came from, for error messages. */
struct flags_source {
	const char *value;
	char name[FLAGS_ENV_NAME_MAX + 16]; /* "--name", an env var, "the default of --name" */
};

static void flags_fail(struct flags_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void flags_fail(struct flags_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static bool flags_is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Copies a value for an error message: control bytes as \xHH, long
 * values cut with "...". */
static void flags_show(const char *v, char *out, size_t out_size)
{
	size_t i, n = 0;

	for (i = 0; v[i] && i < FLAGS_SHOWN_MAX && n + 8 < out_size; i++) {
		if (flags_is_control((unsigned char)v[i]))
			n +=
			    (size_t)snprintf(out + n, out_size - n, "\\x%02x", (unsigned char)v[i]);
		else
			out[n++] = v[i];
	}
	if (v[i] && n + 4 <= out_size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static void *flags_field(const struct flags_spec *spec, void *dest)
{
	return (char *)dest + spec->offset;
}

static bool flags_is_string_type(enum flags_type type)
{
	return type == FLAGS_STRING || type == FLAGS_URL_PATH || type == FLAGS_FILE_PATH ||
	       type == FLAGS_HTTP_URL;
}

static size_t flags_field_size(enum flags_type type)
{
	switch (type) {
	case FLAGS_BOOL:
		return sizeof(bool);
	case FLAGS_UINT:
		return sizeof(unsigned int);
	case FLAGS_DURATION:
		return sizeof(uint64_t);
	case FLAGS_ENUM:
		return sizeof(int);
	case FLAGS_LIST:
		return sizeof(struct flags_list);
	case FLAGS_LISTEN_ADDRESS:
		return sizeof(struct flags_listen_address);
	default:
		return sizeof(char *);
	}
}

static void flags_list_clear(struct flags_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Frees what the field owns and leaves it empty. */
static void flags_clear_field(const struct flags_spec *spec, void *dest)
{
	void *f = flags_field(spec, dest);
	char **s = f;
	struct flags_listen_address *a = f;

	if (flags_is_string_type(spec->type)) {
		free(*s);
		*s = NULL;
	} else if (spec->type == FLAGS_LIST) {
		flags_list_clear(f);
	} else if (spec->type == FLAGS_LISTEN_ADDRESS) {
		free(a->host);
		a->host = NULL;
		a->port = 0;
	}
}

void flags_done(const struct flags_set *set, void *dest)
{
	size_t i;

	for (i = 0; i < set->n_specs; i++)
		flags_clear_field(&set->specs[i], dest);
}

/* ---- Value converters: each returns 0, -EINVAL with why set, or -ENOMEM. ---- */

static int flags_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t n = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*ret = n;
	return 0;
}

static void flags_bound_text(uint64_t v, bool duration, char *out, size_t out_size)
{
	if (!duration || flags_format_duration(v, out, out_size) < 0)
		snprintf(out, out_size, "%llu", (unsigned long long)v);
}

/* Checks min <= v <= max (max 0: limit). */
static int flags_check_bounds(const struct flags_spec *spec, uint64_t v, uint64_t limit, char *why,
			      size_t why_size)
{
	uint64_t max = spec->max ? spec->max : limit;
	bool duration = spec->type == FLAGS_DURATION;
	char lo[32], hi[32];

	if (v >= spec->min && v <= max)
		return 0;
	flags_bound_text(spec->min, duration, lo, sizeof(lo));
	flags_bound_text(max, duration, hi, sizeof(hi));
	if (spec->min > 0 && spec->max)
		snprintf(why, why_size, "must be between %s and %s", lo, hi);
	else if (v < spec->min)
		snprintf(why, why_size, "must be at least %s", lo);
	else
		snprintf(why, why_size, "must be at most %s", hi);
	return -EINVAL;
}

static int flags_conv_uint(const struct flags_spec *spec, const char *v, void *f, char *why,
			   size_t why_size)
{
	uint64_t n = 0;
	int r;

	r = flags_parse_u64(v, &n);
	if (r == -EINVAL) {
		snprintf(why, why_size, "not a whole number");
		return -EINVAL;
	}
	if (r == -ERANGE)
		n = UINT64_MAX;
	r = flags_check_bounds(spec, n, UINT_MAX, why, why_size);
	if (r < 0)
		return r;
	*(unsigned int *)f = (unsigned int)n;
	return 0;
}

static int flags_conv_duration(const struct flags_spec *spec, const char *v, void *f, char *why,
			       size_t why_size)
{
	uint64_t ms = 0;
	int r;

	r = flags_parse_duration(v, &ms);
	if (r == -EINVAL) {
		snprintf(why, why_size, "not a duration (use e.g. 30s, 5m, 1h)");
		return -EINVAL;
	}
	if (r == -ERANGE)
		ms = UINT64_MAX;
	r = flags_check_bounds(spec, ms, INT64_MAX, why, why_size);
	if (r < 0)
		return r;
	*(uint64_t *)f = ms;
	return 0;
}

static int flags_parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "true", "t", "1" }, *const no[] = { "false", "f", "0" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int flags_conv_bool(const struct flags_spec *spec, const char *v, void *f, char *why,
			   size_t why_size)
{
	if (flags_parse_bool(v, f) < 0) {
		snprintf(why, why_size, "not a boolean (use true or false)");
		return -EINVAL;
	}
	return 0;
}

static int flags_conv_enum(const struct flags_spec *spec, const char *v, void *f, char *why,
			   size_t why_size)
{
	size_t i, n;

	for (i = 0; spec->choices[i]; i++) {
		if (strcmp(v, spec->choices[i]) == 0) {
			*(int *)f = (int)i;
			return 0;
		}
	}
	n = (size_t)snprintf(why, why_size, "must be one of ");
	for (i = 0; spec->choices[i] && n < why_size; i++)
		n += (size_t)snprintf(why + n, why_size - n, "%s%s", i ? ", " : "",
				      spec->choices[i]);
	return -EINVAL;
}

static int flags_set_string(const char *v, void *f)
{
	char *s = NULL;

	if (*v) {
		s = strdup(v);
		if (!s)
			return -ENOMEM;
	}
	*(char **)f = s;
	return 0;
}

static int flags_conv_string(const struct flags_spec *spec, const char *v, void *f, char *why,
			     size_t why_size)
{
	return flags_set_string(v, f);
}

static int flags_conv_url_path(const struct flags_spec *spec, const char *v, void *f, char *why,
			       size_t why_size)
{
	if (*v && *v != '/') {
		snprintf(why, why_size, "must start with '/'");
		return -EINVAL;
	}
	if (strpbrk(v, " ?#")) {
		snprintf(why, why_size, "must not contain a space, '?' or '#'");
		return -EINVAL;
	}
	return flags_set_string(v, f);
}

static int flags_conv_http_url(const struct flags_spec *spec, const char *v, void *f, char *why,
			       size_t why_size)
{
	const char *host = NULL;

	if (strncasecmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncasecmp(v, "https://", 8) == 0)
		host = v + 8;
	if (*v && (!host || !*host || strchr("/?#:@", *host) || strchr(v, ' '))) {
		snprintf(why, why_size, "not an http or https URL");
		return -EINVAL;
	}
	return flags_set_string(v, f);
}

/* Host names and IPv4 literals: letters, digits, '-', '.'. */
static bool flags_valid_hostname(const char *h, size_t len)
{
	size_t i;

	if (len == 0 || len > FLAGS_HOSTNAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.",
			    h[i]))
			return false;
	return true;
}

static bool flags_valid_ipv6(const char *h, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned char addr[16];

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, h, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, addr) == 1;
}

/* Splits "host:port", ":port" or "[v6]:port"; *host_len 0 for ":port". */
static int flags_split_listen(const char *v, const char **host, size_t *host_len, const char **port)
{
	const char *colon, *close;

	if (v[0] == '[') {
		close = strchr(v, ']');
		if (!close || close[1] != ':' || !flags_valid_ipv6(v + 1, (size_t)(close - v - 1)))
			return -EINVAL;
		*host = v + 1;
		*host_len = (size_t)(close - v - 1);
		*port = close + 2;
		return 0;
	}
	colon = strchr(v, ':');
	if (!colon || strchr(colon + 1, ':'))
		return -EINVAL;
	if (colon > v && !flags_valid_hostname(v, (size_t)(colon - v)))
		return -EINVAL;
	*host = v;
	*host_len = (size_t)(colon - v);
	*port = colon + 1;
	return 0;
}

static int flags_conv_listen(const struct flags_spec *spec, const char *v, void *f, char *why,
			     size_t why_size)
{
	struct flags_listen_address *a = f;
	const char *host, *port_text;
	size_t host_len;
	uint64_t port = 0;

	if (flags_split_listen(v, &host, &host_len, &port_text) < 0) {
		snprintf(why, why_size,
			 "not a listen address (use host:port, :port or [::1]:port)");
		return -EINVAL;
	}
	if (flags_parse_u64(port_text, &port) < 0 || port < 1 || port > 65535) {
		snprintf(why, why_size, "the port must be a number between 1 and 65535");
		return -EINVAL;
	}
	a->host = NULL;
	if (host_len) {
		a->host = strndup(host, host_len);
		if (!a->host)
			return -ENOMEM;
	}
	a->port = (unsigned int)port;
	return 0;
}

static bool flags_list_has(const struct flags_list *l, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->items[i]) == len && memcmp(l->items[i], s, len) == 0)
			return true;
	return false;
}

/* Appends the trimmed item [s, s + len) to l. */
static int flags_list_add(const struct flags_spec *spec, struct flags_list *l, const char *s,
			  size_t len, char *why, size_t why_size)
{
	size_t max = spec->max_items ? spec->max_items : FLAGS_LIST_DEFAULT_MAX_ITEMS;

	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len) {
		snprintf(why, why_size, "empty item in the list");
		return -EINVAL;
	}
	if (l->n == max) {
		snprintf(why, why_size, "more than %zu items", max);
		return -EINVAL;
	}
	if (flags_list_has(l, s, len)) {
		snprintf(why, why_size, "\"%.*s\" is listed twice", (int)(len < 64 ? len : 64), s);
		return -EINVAL;
	}
	l->items[l->n] = strndup(s, len);
	if (!l->items[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

static bool flags_blank(const char *v)
{
	return v[strspn(v, " \t")] == '\0';
}

static int flags_conv_list(const struct flags_spec *spec, const char *v, void *f, char *why,
			   size_t why_size)
{
	struct flags_list *l = f;
	const char *p = v, *comma;
	size_t max = spec->max_items ? spec->max_items : FLAGS_LIST_DEFAULT_MAX_ITEMS;
	int r = 0;

	l->n = 0;
	l->items = NULL;
	if (flags_blank(v))
		return 0;
	l->items = calloc(max, sizeof(*l->items));
	if (!l->items)
		return -ENOMEM;
	for (; r == 0; p = comma + 1) {
		comma = strchr(p, ',');
		if (!comma)
			comma = p + strlen(p);
		r = flags_list_add(spec, l, p, (size_t)(comma - p), why, why_size);
		if (!*comma)
			break;
	}
	if (r < 0)
		flags_list_clear(l);
	return r;
}

typedef int (*flags_conv_fn)(const struct flags_spec *spec, const char *v, void *f, char *why,
			     size_t why_size);

static const flags_conv_fn flags_converters[] = {
	[FLAGS_STRING] = flags_conv_string,
	[FLAGS_BOOL] = flags_conv_bool,
	[FLAGS_UINT] = flags_conv_uint,
	[FLAGS_DURATION] = flags_conv_duration,
	[FLAGS_ENUM] = flags_conv_enum,
	[FLAGS_LIST] = flags_conv_list,
	[FLAGS_LISTEN_ADDRESS] = flags_conv_listen,
	[FLAGS_URL_PATH] = flags_conv_url_path,
	[FLAGS_FILE_PATH] = flags_conv_string,
	[FLAGS_HTTP_URL] = flags_conv_http_url,
};

/* Checks what every type shares, then converts. */
static int flags_convert(const struct flags_spec *spec, const char *v, void *dest, char *why,
			 size_t why_size)
{
	const char *p;

	if (strlen(v) > FLAGS_VALUE_MAX) {
		snprintf(why, why_size, "longer than %d bytes", FLAGS_VALUE_MAX);
		return -EINVAL;
	}
	for (p = v; *p; p++) {
		if (flags_is_control((unsigned char)*p)) {
			snprintf(why, why_size, "contains a control character");
			return -EINVAL;
		}
	}
	if (spec->nonempty && flags_blank(v)) {
		snprintf(why, why_size, "must not be empty");
		return -EINVAL;
	}
	return flags_converters[spec->type](spec, v, flags_field(spec, dest), why, why_size);
}

/* ---- Durations ---- */

static const struct {
	const char *unit;
	uint64_t ms;
} flags_duration_units[] = {
	{ "y", 365ULL * 24 * 3600 * 1000 },
	{ "w", 7ULL * 24 * 3600 * 1000 },
	{ "d", 24ULL * 3600 * 1000 },
	{ "h", 3600ULL * 1000 },
	{ "m", 60ULL * 1000 },
	{ "s", 1000 },
	{ "ms", 1 },
};

#define FLAGS_N_UNITS (sizeof(flags_duration_units) / sizeof(flags_duration_units[0]))

/* Matches the longest unit at *p; returns its index and advances, or -1. */
static int flags_match_unit(const char **p)
{
	int i, best = -1;
	size_t len, best_len = 0;

	for (i = 0; i < (int)FLAGS_N_UNITS; i++) {
		len = strlen(flags_duration_units[i].unit);
		if (len > best_len && strncmp(*p, flags_duration_units[i].unit, len) == 0) {
			best = i;
			best_len = len;
		}
	}
	*p += best_len;
	return best;
}

/* Reads digits at *p, saturating at UINT64_MAX; false when there are none. */
static bool flags_read_digits(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t n = 0;

	for (; **p >= '0' && **p <= '9'; (*p)++) {
		unsigned d = (unsigned)(**p - '0');
		n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
	}
	*ret = n;
	return *p > s;
}

int flags_parse_duration(const char *s, uint64_t *ret_ms)
{
	uint64_t total = 0, n, unit_ms;
	bool overflow = false;
	int unit, last = -1;

	if (strcmp(s, "0") == 0) {
		*ret_ms = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		if (!flags_read_digits(&s, &n))
			return -EINVAL;
		unit = flags_match_unit(&s);
		if (unit <= last)
			return -EINVAL;
		last = unit;
		unit_ms = flags_duration_units[unit].ms;
		if (n > (uint64_t)INT64_MAX / unit_ms || total + n * unit_ms > (uint64_t)INT64_MAX)
			overflow = true;
		else
			total += n * unit_ms;
	}
	if (overflow)
		return -ERANGE;
	*ret_ms = total;
	return 0;
}

int flags_format_duration(uint64_t ms, char *out, size_t out_size)
{
	size_t i, n = 0;
	int w;

	if (ms == 0)
		return snprintf(out, out_size, "0s") < (int)out_size ? 0 : -ERANGE;
	for (i = 0; i < FLAGS_N_UNITS; i++) {
		uint64_t u = flags_duration_units[i].ms;

		if (ms < u)
			continue;
		w = snprintf(out + n, out_size - n, "%llu%s", (unsigned long long)(ms / u),
			     flags_duration_units[i].unit);
		if (w < 0 || (size_t)w >= out_size - n)
			return -ERANGE;
		n += (size_t)w;
		ms %= u;
	}
	return 0;
}

/* ---- Pass one: the command line ---- */

static const struct flags_spec *flags_find(const struct flags_set *set, const char *name,
					   size_t len)
{
	size_t i;

	for (i = 0; i < set->n_specs; i++)
		if (strlen(set->specs[i].name) == len &&
		    strncmp(set->specs[i].name, name, len) == 0)
			return &set->specs[i];
	return NULL;
}

/* One "--..." argument: what it names and the value it carries. */
struct flags_arg {
	const struct flags_spec *spec;
	const char *value; /* NULL: none given inline */
	bool negated;	   /* --no-<bool> */
	size_t name_len;
};

static int flags_match_arg(const struct flags_set *set, const char *arg, struct flags_arg *a,
			   struct flags_error *err)
{
	const char *name = arg + 2, *eq = strchr(name, '=');

	a->name_len = eq ? (size_t)(eq - name) : strlen(name);
	a->value = eq ? eq + 1 : NULL;
	a->negated = false;
	a->spec = flags_find(set, name, a->name_len);
	if (!a->spec && a->name_len > 3 && strncmp(name, "no-", 3) == 0) {
		a->spec = flags_find(set, name + 3, a->name_len - 3);
		a->negated = a->spec != NULL;
	}
	if (!a->spec || (a->negated && a->spec->type != FLAGS_BOOL)) {
		flags_fail(err, "unknown flag --%.*s", (int)(a->name_len < 100 ? a->name_len : 100),
			   name);
		return -EINVAL;
	}
	if (a->negated && a->value) {
		flags_fail(err, "--%.*s takes no value", (int)a->name_len, name);
		return -EINVAL;
	}
	return 0;
}

/* Records one flag argument at argv[*i], taking the next one as its value
 * when needed. */
static int flags_take_arg(const struct flags_set *set, const struct flags_input *in, int *i,
			  const char **cmdline, struct flags_error *err)
{
	struct flags_arg a;
	size_t idx;
	int r;

	r = flags_match_arg(set, in->argv[*i], &a, err);
	if (r < 0)
		return r;
	idx = (size_t)(a.spec - set->specs);
	if (cmdline[idx]) {
		flags_fail(err, "flag --%s cannot be repeated", a.spec->name);
		return -EINVAL;
	}
	if (a.spec->type == FLAGS_BOOL && !a.value)
		a.value = a.negated ? "false" : "true";
	if (!a.value) {
		if (*i + 1 >= in->argc || strncmp(in->argv[*i + 1], "--", 2) == 0) {
			flags_fail(err, "missing value for --%s", a.spec->name);
			return -EINVAL;
		}
		a.value = in->argv[++*i];
	}
	cmdline[idx] = a.value;
	return 0;
}

/* An argument that is not "--name...": "--" (only allowed last), a short
 * flag or a positional argument, none of which the programs take. */
static int flags_refuse_arg(const struct flags_input *in, int i, struct flags_error *err)
{
	const char *arg = in->argv[i];

	if (strcmp(arg, "--") == 0) {
		if (i + 1 == in->argc)
			return 0;
		arg = in->argv[i + 1];
	} else if (arg[0] == '-' && arg[1] && arg[1] != '-') {
		flags_fail(err, "unknown flag %.100s (flags are long: --name=value)", arg);
		return -EINVAL;
	}
	flags_fail(err, "unexpected argument \"%.100s\"", arg);
	return -EINVAL;
}

/* Walks argv; stops early at --help or --version. */
static int flags_scan_args(const struct flags_set *set, const struct flags_input *in,
			   const char **cmdline, enum flags_action *action, struct flags_error *err)
{
	const char *arg;
	int i, r;

	*action = FLAGS_RUN;
	for (i = 1; i < in->argc; i++) {
		arg = in->argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			*action = FLAGS_HELP;
			return 0;
		}
		if (set->has_version && strcmp(arg, "--version") == 0) {
			*action = FLAGS_VERSION;
			return 0;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
			r = flags_refuse_arg(in, i, err);
		else
			r = flags_take_arg(set, in, &i, cmdline, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- Pass two: values into the destination ---- */

int flags_env_name(const struct flags_set *set, const struct flags_spec *spec, char *out,
		   size_t out_size)
{
	size_t n = strlen(set->env_prefix), i;

	if (n + strlen(spec->name) >= out_size)
		return -ERANGE;
	memcpy(out, set->env_prefix, n);
	for (i = 0; spec->name[i]; i++) {
		char c = spec->name[i];

		if (c == '.' || c == '-')
			c = '_';
		else if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

static const char *flags_lookup_env(const struct flags_input *in, const char *name)
{
	return in->getenv ? in->getenv(name, in->getenv_userdata) : getenv(name);
}

/* Picks the value of spec: command line, else environment, else default. */
static void flags_pick(const struct flags_set *set, const struct flags_input *in,
		       const struct flags_spec *spec, const char *cmdline, struct flags_source *src)
{
	char env[FLAGS_ENV_NAME_MAX];
	const char *v = NULL;

	if (cmdline) {
		src->value = cmdline;
		snprintf(src->name, sizeof(src->name), "--%s", spec->name);
		return;
	}
	if (flags_env_name(set, spec, env, sizeof(env)) == 0)
		v = flags_lookup_env(in, env);
	if (v && *v) {
		src->value = v;
		snprintf(src->name, sizeof(src->name), "%s", env);
		return;
	}
	src->value = spec->def ? spec->def : (spec->type == FLAGS_BOOL ? "false" : "");
	snprintf(src->name, sizeof(src->name), "the default of --%s", spec->name);
}

static int flags_fill(const struct flags_set *set, const struct flags_input *in,
		      const char **cmdline, void *tmp, struct flags_error *err)
{
	struct flags_source src;
	char why[256], shown[FLAGS_SHOWN_MAX * 4 + 8];
	size_t i;
	int r;

	for (i = 0; i < set->n_specs; i++) {
		flags_pick(set, in, &set->specs[i], cmdline[i], &src);
		r = flags_convert(&set->specs[i], src.value, tmp, why, sizeof(why));
		if (r == -EINVAL) {
			flags_show(src.value, shown, sizeof(shown));
			flags_fail(err, "invalid value \"%s\" for %s: %s", shown, src.name, why);
		} else if (r < 0) {
			flags_fail(err, "out of memory");
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int flags_parse(const struct flags_set *set, const struct flags_input *in, void *dest,
		enum flags_action *ret_action, struct flags_error *err)
{
	enum flags_action action;
	const char **cmdline;
	void *tmp = NULL;
	int r;

	cmdline = calloc(set->n_specs ? set->n_specs : 1, sizeof(*cmdline));
	if (!cmdline) {
		flags_fail(err, "out of memory");
		return -ENOMEM;
	}
	r = flags_scan_args(set, in, cmdline, &action, err);
	if (r < 0 || action != FLAGS_RUN)
		goto out_cmdline;
	tmp = malloc(set->dest_size);
	if (!tmp) {
		flags_fail(err, "out of memory");
		r = -ENOMEM;
		goto out_cmdline;
	}
	memcpy(tmp, dest, set->dest_size);
	for (size_t i = 0; i < set->n_specs; i++)
		memset(flags_field(&set->specs[i], tmp), 0, flags_field_size(set->specs[i].type));
	r = flags_fill(set, in, cmdline, tmp, err);
	if (r < 0) {
		flags_done(set, tmp);
		goto out_tmp;
	}
	memcpy(dest, tmp, set->dest_size);
out_tmp:
	free(tmp);
out_cmdline:
	free(cmdline);
	if (r == 0)
		*ret_action = action;
	return r;
}

/* ---- Table checks ---- */

static int flags_check_name(const struct flags_set *set, const struct flags_spec *spec,
			    struct flags_error *err)
{
	const char *n = spec->name;

	if (!n || !*n || n[strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789.-")] || *n == '-' ||
	    strncmp(n, "no-", 3) == 0 || strcmp(n, "help") == 0 || strcmp(n, "version") == 0) {
		flags_fail(err, "bad flag name \"%s\"", n ? n : "(null)");
		return -EINVAL;
	}
	if (flags_find(set, n, strlen(n)) != spec) {
		flags_fail(err, "flag --%s declared twice", n);
		return -EINVAL;
	}
	return 0;
}

int flags_check(const struct flags_set *set, struct flags_error *err)
{
	const struct flags_spec *s;
	size_t i;
	int r;

	for (i = 0; i < set->n_specs; i++) {
		s = &set->specs[i];
		r = flags_check_name(set, s, err);
		if (r < 0)
			return r;
		if ((unsigned)s->type >= sizeof(flags_converters) / sizeof(flags_converters[0]) ||
		    s->offset + flags_field_size(s->type) > set->dest_size ||
		    (s->type == FLAGS_ENUM && (!s->choices || !s->choices[0])) || !s->help) {
			flags_fail(err, "flag --%s: bad type, offset, choices or help", s->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- Usage ---- */

/* Appends text word by word, breaking lines before FLAGS_USAGE_WIDTH; every
 * line starts with indent spaces. */
static int flags_wrap(struct buf *out, const char *text, size_t indent)
{
	size_t col = 0, len;
	int r = 0;

	while (*text && r == 0) {
		text += strspn(text, " ");
		len = strcspn(text, " ");
		if (!len)
			break;
		if (col && col + 1 + len > FLAGS_USAGE_WIDTH) {
			r = buf_putc(out, '\n');
			col = 0;
		}
		if (r == 0)
			r = col ? buf_putc(out, ' ') : buf_printf(out, "%*s", (int)indent, "");
		if (r == 0)
			r = buf_append(out, text, len);
		col += (col ? 1 : indent) + len;
		text += len;
	}
	return r ? r : buf_putc(out, '\n');
}

static int flags_placeholder(const struct flags_spec *spec, struct buf *out)
{
	static const char *const derived[] = {
		[FLAGS_STRING] = "<string>",
		[FLAGS_UINT] = "<n>",
		[FLAGS_DURATION] = "<duration>",
		[FLAGS_LIST] = "<item,...>",
		[FLAGS_LISTEN_ADDRESS] = "<[host]:port>",
		[FLAGS_URL_PATH] = "<path>",
		[FLAGS_FILE_PATH] = "<file>",
		[FLAGS_HTTP_URL] = "<url>",
	};
	size_t i;
	int r;

	if (spec->placeholder)
		return buf_printf(out, "=%s", spec->placeholder);
	if (spec->type != FLAGS_ENUM)
		return buf_printf(out, "=%s", derived[spec->type]);
	r = buf_puts(out, "=<");
	for (i = 0; spec->choices[i] && r == 0; i++)
		r = buf_printf(out, "%s%s", i ? "|" : "", spec->choices[i]);
	return r ? r : buf_putc(out, '>');
}

static int flags_usage_name(const struct flags_spec *spec, struct buf *out)
{
	int r;

	if (spec->type == FLAGS_BOOL)
		return buf_printf(out, "  --[no-]%s\n", spec->name);
	r = buf_printf(out, "  --%s", spec->name);
	if (r == 0)
		r = flags_placeholder(spec, out);
	return r ? r : buf_putc(out, '\n');
}

/* "  --name=<placeholder>", the help, then "[default: ...] [env: ...]". */
static int flags_usage_spec(const struct flags_set *set, const struct flags_spec *spec,
			    struct buf *out)
{
	const char *def = spec->def ? spec->def : (spec->type == FLAGS_BOOL ? "false" : "");
	char env[FLAGS_ENV_NAME_MAX], meta[FLAGS_VALUE_MAX + 2 * FLAGS_ENV_NAME_MAX];
	int r;

	r = flags_usage_name(spec, out);
	if (r == 0)
		r = flags_wrap(out, spec->help, FLAGS_HELP_INDENT);
	if (r == 0)
		r = flags_env_name(set, spec, env, sizeof(env));
	if (r < 0)
		return r;
	if (*def)
		snprintf(meta, sizeof(meta), "[default: %s] [env: %s]", def, env);
	else
		snprintf(meta, sizeof(meta), "[env: %s]", env);
	return flags_wrap(out, meta, FLAGS_HELP_INDENT);
}

int flags_usage(const struct flags_set *set, struct buf *out)
{
	size_t i;
	int r;

	r = buf_printf(out, "usage: %s [<flags>]\n\n", set->program);
	if (r == 0 && set->summary)
		r = flags_wrap(out, set->summary, 0);
	if (r == 0)
		r = buf_puts(out, "\nFlags:\n  -h, --help\n      Show this help and exit.\n");
	if (r == 0 && set->has_version)
		r = buf_puts(out, "  --version\n      Show the version and exit.\n");
	for (i = 0; i < set->n_specs && r == 0; i++)
		r = flags_usage_spec(set, &set->specs[i], out);
	return r;
}
