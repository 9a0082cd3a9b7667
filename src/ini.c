/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ini: the INI dialect of the AWS shared files. See include/ini.h.
 *
 * All names and values live in one arena sized from the input (each line
 * writes at most its own length plus one byte), so nothing is reallocated
 * while secrets are copied and ini_free() can wipe every byte of them.
 * Sections and properties are offsets into the arena.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "ini.h"

struct ini_section {
	size_t name;  /* offset in text */
	size_t first; /* index of its first entry */
	size_t n;     /* number of entries */
};

struct ini_entry {
	size_t key;   /* offset in text */
	size_t value; /* offset in text */
};

struct ini {
	char *text;
	size_t text_size;
	size_t used;
	struct ini_section *sections;
	size_t n_sections, alloc_sections;
	struct ini_entry *entries;
	size_t n_entries, alloc_entries;
	int in_value; /* while parsing: the last property may be continued */
};

/* A view of part of a line. */
struct ini_span {
	const char *p;
	size_t n;
};

static int ini_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static struct ini_span ini_trim(struct ini_span s)
{
	while (s.n && ini_is_blank(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && ini_is_blank(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* Cuts a value at the first '#' or ';' that follows a blank, and trims it. */
static struct ini_span ini_cut_comment(struct ini_span s)
{
	size_t i;

	for (i = 1; i < s.n; i++)
		if ((s.p[i] == '#' || s.p[i] == ';') && ini_is_blank(s.p[i - 1])) {
			s.n = i;
			break;
		}
	return ini_trim(s);
}

static int ini_grow(void **arr, size_t *alloc, size_t n, size_t size)
{
	size_t want = *alloc ? *alloc * 2 : 8;
	void *p;

	if (n < *alloc)
		return 0;
	p = realloc(*arr, want * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*alloc = want;
	return 0;
}

/* Copies s into the arena with a NUL; returns its offset. */
static size_t ini_store(struct ini *ini, struct ini_span s)
{
	size_t off = ini->used;

	memcpy(ini->text + off, s.p, s.n);
	ini->text[off + s.n] = '\0';
	ini->used += s.n + 1;
	return off;
}

static int ini_add_section(struct ini *ini, struct ini_span line)
{
	const char *close = memchr(line.p, ']', line.n);
	struct ini_span name, rest;
	int r;

	if (!close)
		return -EBADMSG;
	name = ini_trim((struct ini_span){ line.p + 1, (size_t)(close - line.p) - 1 });
	rest = ini_trim((struct ini_span){ close + 1, line.n - (size_t)(close - line.p) - 1 });
	if (!name.n || (rest.n && rest.p[0] != '#' && rest.p[0] != ';'))
		return -EBADMSG;
	r = ini_grow((void **)&ini->sections, &ini->alloc_sections, ini->n_sections,
		     sizeof(*ini->sections));
	if (r < 0)
		return r;
	ini->sections[ini->n_sections++] = (struct ini_section){
		.name = ini_store(ini, name),
		.first = ini->n_entries,
	};
	ini->in_value = 0;
	return 0;
}

static int ini_add_property(struct ini *ini, struct ini_span line)
{
	const char *eq = memchr(line.p, '=', line.n);
	struct ini_span key, value;
	int r;

	if (!ini->n_sections || !eq)
		return -EBADMSG;
	key = ini_trim((struct ini_span){ line.p, (size_t)(eq - line.p) });
	value = ini_cut_comment((struct ini_span){ eq + 1, line.n - (size_t)(eq - line.p) - 1 });
	if (!key.n)
		return -EBADMSG;
	r = ini_grow((void **)&ini->entries, &ini->alloc_entries, ini->n_entries,
		     sizeof(*ini->entries));
	if (r < 0)
		return r;
	ini->entries[ini->n_entries].key = ini_store(ini, key);
	ini->entries[ini->n_entries].value = ini_store(ini, value);
	ini->n_entries++;
	ini->sections[ini->n_sections - 1].n++;
	ini->in_value = 1;
	return 0;
}

/* The value being continued is the last string in the arena: turn its NUL
 * into a line break and append. */
static void ini_continue_value(struct ini *ini, struct ini_span s)
{
	ini->text[ini->used - 1] = '\n';
	ini_store(ini, ini_cut_comment(s));
}

static int ini_parse_line(struct ini *ini, struct ini_span line)
{
	struct ini_span t;

	if (line.n && line.p[line.n - 1] == '\r')
		line.n--;
	if (line.n > INI_MAX_LINE_BYTES)
		return -EMSGSIZE;
	t = ini_trim(line);
	if (!t.n || t.p[0] == '#' || t.p[0] == ';')
		return 0;
	if (ini_is_blank(line.p[0]) && ini->in_value) {
		ini_continue_value(ini, t);
		return 0;
	}
	if (t.p[0] == '[')
		return ini_add_section(ini, t);
	return ini_add_property(ini, t);
}

static int ini_parse_lines(struct ini *ini, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *eol;
	int r;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		r = ini_parse_line(ini, (struct ini_span){ p, (size_t)(eol - p) });
		if (r < 0)
			return r;
		p = eol + 1;
	}
	return 0;
}

int ini_parse(const char *data, size_t len, struct ini **ret)
{
	struct ini *ini;
	int r;

	if (len && memchr(data, '\0', len))
		return -EBADMSG;
	ini = calloc(1, sizeof(*ini));
	if (!ini)
		return -ENOMEM;
	ini->text_size = len + 2;
	ini->text = malloc(ini->text_size);
	if (!ini->text) {
		ini_free(ini);
		return -ENOMEM;
	}
	r = ini_parse_lines(ini, data, len);
	if (r < 0) {
		ini_free(ini);
		return r;
	}
	*ret = ini;
	return 0;
}

size_t ini_section_count(const struct ini *ini)
{
	return ini->n_sections;
}

const char *ini_section_name(const struct ini *ini, size_t i)
{
	return ini->text + ini->sections[i].name;
}

size_t ini_section_key_count(const struct ini *ini, size_t i)
{
	return ini->sections[i].n;
}

void ini_section_key(const struct ini *ini, size_t i, size_t j, const char **ret_key,
		     const char **ret_value)
{
	const struct ini_entry *e = &ini->entries[ini->sections[i].first + j];

	*ret_key = ini->text + e->key;
	*ret_value = ini->text + e->value;
}

const char *ini_section_get(const struct ini *ini, size_t i, const char *key)
{
	const struct ini_section *s = &ini->sections[i];
	size_t j;

	for (j = s->n; j > 0; j--) {
		const struct ini_entry *e = &ini->entries[s->first + j - 1];

		if (strcasecmp(ini->text + e->key, key) == 0)
			return ini->text + e->value;
	}
	return NULL;
}

struct ini *ini_free(struct ini *ini)
{
	if (!ini)
		return NULL;
	if (ini->text) {
		OPENSSL_cleanse(ini->text, ini->text_size);
		free(ini->text);
	}
	free(ini->sections);
	free(ini->entries);
	free(ini);
	return NULL;
}
