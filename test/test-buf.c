/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "buf.h"
#include "test.h"

static void test_append_and_steal(void)
{
	struct buf b;
	size_t len;
	char *s;

	buf_init(&b, 100);
	CHECK_INT(buf_puts(&b, "hello"), 0);
	CHECK_INT(buf_putc(&b, ' '), 0);
	CHECK_INT(buf_printf(&b, "%s %d", "world", 42), 0);
	CHECK_STR(b.data, "hello world 42");
	s = buf_steal(&b, &len);
	CHECK_INT(len, 14);
	CHECK_STR(s, "hello world 42");
	CHECK(b.data == NULL && b.len == 0);
	free(s);
}

static void test_cap_leaves_buffer_unchanged(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_INT(buf_puts(&b, "12345678"), 0);
	CHECK_INT(buf_putc(&b, '9'), -EMSGSIZE);
	CHECK_INT(buf_printf(&b, "%d", 1), -EMSGSIZE);
	CHECK_INT(b.len, 8);
	CHECK_STR(b.data, "12345678");
	buf_done(&b);
}

static void test_empty_steal_is_string(void)
{
	struct buf b;
	char *s;

	buf_init(&b, 8);
	s = buf_steal(&b, NULL);
	CHECK(s != NULL);
	CHECK_STR(s, "");
	free(s);
}

static void test_reset_keeps_cap(void)
{
	struct buf b;

	buf_init(&b, 4);
	CHECK_INT(buf_puts(&b, "abcd"), 0);
	buf_reset(&b);
	CHECK_STR(b.data, "");
	CHECK_INT(buf_puts(&b, "wxyz"), 0);
	CHECK_INT(buf_puts(&b, "!"), -EMSGSIZE);
	buf_done(&b);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_append_and_steal),
			 TEST_CASE(test_cap_leaves_buffer_unchanged),
			 TEST_CASE(test_empty_steal_is_string), TEST_CASE(test_reset_keeps_cap));
}
