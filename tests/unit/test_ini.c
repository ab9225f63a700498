/* SPDX-License-Identifier: BSD-2-Clause */
/* The INI parser of base/ini.c: what it delivers and what it refuses. */
#include "harness.h"

#include "../../src/base/err.h"
#include "../../src/base/ini.h"

#include <unistd.h>

/* Every callback as one line of text: "S name @line" or "V section.key=value @line". */
typedef struct {
	char log[8192];
	size_t len;
	const char *fail_key; /* the value callback fails on this key */
} recorder;

static int rec_section(void *ud, const char *section, int line)
{
	recorder *r = ud;
	r->len += (size_t)snprintf(r->log + r->len, sizeof(r->log) - r->len, "S %s @%d\n", section, line);
	return 0;
}

static int rec_value(void *ud, const char *section, const char *key, const char *value, int line)
{
	recorder *r = ud;
	if (r->fail_key && strcmp(key, r->fail_key) == 0)
		return err_set(-EINVAL, "no such setting '%s'", key);
	r->len += (size_t)snprintf(r->log + r->len, sizeof(r->log) - r->len, "V %s.%s=%s @%d\n", section,
				   key, value, line);
	return 0;
}

static int parse(recorder *r, const char *text, size_t n)
{
	memset(r->log, 0, sizeof(r->log));
	r->len = 0;
	ini_handler h = { rec_section, rec_value, r };
	err_clear();
	return ini_parse(text, n, "t.conf", &h);
}

static int parse_str(recorder *r, const char *text)
{
	return parse(r, text, strlen(text));
}

TEST(ini_sections_values_comments)
{
	recorder r = { .fail_key = NULL };
	const char *text = "# a comment\n"
			   "top = level\n"
			   "\n"
			   "[ email ]\n"
			   "  url = smtp://x:25  \n"
			   "; another comment\n"
			   "password = a#b;c=d\n"
			   "empty =\n"
			   "[webhook] # trailing comment\n"
			   "to = a\n"
			   "to = b\n";
	REQUIRE(parse_str(&r, text) == 0);
	CHECK(strcmp(r.log, "V .top=level @2\n"
			    "S email @4\n"
			    "V email.url=smtp://x:25 @5\n"
			    "V email.password=a#b;c=d @7\n"
			    "V email.empty= @8\n"
			    "S webhook @9\n"
			    "V webhook.to=a @10\n"
			    "V webhook.to=b @11\n") == 0);
}

TEST(ini_crlf_bom_and_no_final_newline)
{
	recorder r = { .fail_key = NULL };
	REQUIRE(parse_str(&r, "\xef\xbb\xbf[a]\r\nk = v\r\nlast=1") == 0);
	CHECK(strcmp(r.log, "S a @1\nV a.k=v @2\nV a.last=1 @3\n") == 0);
	REQUIRE(parse_str(&r, "") == 0);
	CHECK(r.len == 0);
}

static void expect_error(const char *text, size_t n, const char *msg)
{
	recorder r = { .fail_key = NULL };
	int rc = parse(&r, text, n);
	CHECK(rc == -EINVAL);
	if (!strstr(err_msg(rc), msg)) {
		fprintf(stderr, "  got '%s', want '%s'\n", err_msg(rc), msg);
		CHECK(!"message");
	}
}

TEST(ini_errors_name_file_and_line)
{
	expect_error("[a]\nno equals sign\n", 16, "t.conf:2: expected '[section]' or 'key = value'");
	expect_error("[a]\n\n[b\n", 8, "t.conf:3: '[' without ']'");
	expect_error("[a] junk\n", 9, "t.conf:1: unexpected 'junk' after the section name");
	expect_error("[  ]\n", 5, "t.conf:1: empty section name");
	expect_error("[a]\n = v\n", 8, "t.conf:2: a value without a key");
	expect_error("[a]\nk = v\0w\n", 10, "t.conf:2: NUL byte");
}

TEST(ini_callback_errors_get_the_position)
{
	recorder r = { .fail_key = "colour" };
	int rc = parse_str(&r, "[a]\nk = 1\ncolour = red\nz = 2\n");
	CHECK(rc == -EINVAL);
	CHECK(strcmp(err_msg(rc), "t.conf:3: no such setting 'colour'") == 0);
	CHECK(strcmp(r.log, "S a @1\nV a.k=1 @2\n") == 0); /* stopped there */
}

TEST(ini_line_and_file_caps)
{
	static char text[2 * INI_MAX_LINE + 64];
	recorder r = { .fail_key = NULL };
	/* a line of exactly INI_MAX_LINE bytes is fine, one more is not */
	size_t n = (size_t)snprintf(text, sizeof(text), "[a]\nk = ");
	memset(text + n, 'x', INI_MAX_LINE - 4);
	n += INI_MAX_LINE - 4;
	text[n++] = '\n';
	REQUIRE(parse(&r, text, n) == 0);
	CHECK(r.len > INI_MAX_LINE);
	text[n - 1] = 'y';
	text[n++] = '\n';
	expect_error(text, n, "t.conf:2: line longer than 4096 bytes");
	/* an overlong last line without a newline too */
	expect_error(text, n - 1, "t.conf:2: line longer than 4096 bytes");
	/* a file over the cap is refused before it is parsed */
	char *big = calloc(1, INI_MAX_FILE + 1);
	REQUIRE(big);
	CHECK(ini_parse(big, INI_MAX_FILE + 1, "big.conf", &(ini_handler){ 0 }) == -EFBIG);
	CHECK(strstr(err_msg(-EFBIG), "big.conf: larger than") != NULL);
	free(big);
}

TEST(ini_parse_file_reads_and_names_what_it_is)
{
	char path[] = "/tmp/dvalin-ini-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	const char text[] = "[s]\nk = v\n";
	REQUIRE(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
	close(fd);
	recorder r = { .fail_key = NULL };
	ini_handler h = { rec_section, rec_value, &r };
	CHECK(ini_parse_file(path, "test configuration", &h) == 0);
	CHECK(strcmp(r.log, "S s @1\nV s.k=v @2\n") == 0);
	unlink(path);
	int rc = ini_parse_file(path, "test configuration", &h);
	CHECK(rc == -ENOENT);
	char want[128];
	snprintf(want, sizeof(want), "cannot read test configuration '%s': No such file or directory", path);
	CHECK(strcmp(err_msg(rc), want) == 0);
}
