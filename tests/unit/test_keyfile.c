/* SPDX-License-Identifier: BSD-2-Clause */
/* Key files: the scrypt cap, names checked against contents, try order. */
#include "harness.h"
#include "../../src/base/err.h"
#include "../../src/repo/format.h"
#include "../../src/repo/key.h"

#include <time.h>

static void make_key(buf *b, unsigned log_n)
{
	crypto_keys k;
	memset(&k, 7, sizeof(k));
	key_params kp = { log_n, 8, 1 };
	REQUIRE(key_encode(b, &k, "pw", &kp) == 0);
	REQUIRE(b->len == KEY_FILE_LEN);
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(key_cap_is_what_init_writes)
{
	key_params lo = { KEY_LOG_N_MIN, 8, 1 }, hi = { KEY_LOG_N_MAX, KEY_R_MAX, KEY_P_MAX };
	CHECK(key_params_ok(&lo) && key_params_ok(&hi));
	key_params bad[] = { { 9, 8, 1 }, { 23, 8, 1 }, { 22, 9, 1 }, { 22, 8, 2 }, { 15, 0, 1 },
			     { 15, 8, 0 }, { 255, 255, 255 } };
	buf b = BUF_INIT;
	crypto_keys k;
	memset(&k, 1, sizeof(k));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!key_params_ok(&bad[i]));
		CHECK(key_encode(&b, &k, "pw", &bad[i]) == -EINVAL); /* the writer keeps the cap too */
	}
	key_params dflt = KEY_PARAMS_INIT;
	CHECK(key_params_ok(&dflt));
	CHECK(key_params_cost(&lo) < key_params_cost(&dflt) && key_params_cost(&dflt) < key_params_cost(&hi));
	key_params huge = { 255, 255, 255 };
	CHECK(key_params_cost(&huge) == UINT64_MAX);
	buf_release(&b);
}

TEST(key_decode_refuses_costly_parameters_before_the_kdf)
{
	buf b = BUF_INIT;
	make_key(&b, 10);
	crypto_keys out;
	REQUIRE(key_decode(&out, b.data, b.len, "pw") == 0);
	CHECK(key_decode(&out, b.data, b.len, "wrong") == -DV_EBADKEY);
	/* 2^22 * r 32 * p 16: 16 GiB and minutes per attempt if it ran */
	uint8_t params[][3] = { { 22, 32, 16 }, { 23, 8, 1 }, { 22, 8, 2 }, { 40, 8, 1 } };
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		memcpy(b.data + 13, params[i], 3);
		key_params kp;
		double t0 = seconds();
		CHECK(key_header(&kp, b.data, b.len) == -E2BIG);
		CHECK(kp.log_n == params[i][0] && kp.r == params[i][1] && kp.p == params[i][2]);
		CHECK(key_decode(&out, b.data, b.len, "pw") == -E2BIG);
		CHECK(seconds() - t0 < 10.0); /* the KDF would take minutes */
	}
	b.data[13] = 9; /* below what any writer makes */
	CHECK(key_decode(&out, b.data, b.len, "pw") == -DV_ECORRUPT);
	b.data[13] = 10;
	b.data[12] = 2; /* an unknown KDF */
	CHECK(key_decode(&out, b.data, b.len, "pw") == -DV_EFORMAT);
	CHECK(key_decode(&out, b.data, b.len - 1, "pw") == -DV_ECORRUPT);
	buf_release(&b);
}

TEST(key_file_names_must_be_their_hash)
{
	buf b = BUF_INIT;
	make_key(&b, 10);
	char name[80], why[400];
	key_file kf;
	key_file_name(name, b.data, b.len);
	CHECK(strncmp(name, "keys/", 5) == 0 && strlen(name) == 5 + 64);
	CHECK(key_file_check(&kf, name, b.data, b.len, why, sizeof(why)) == 0);
	CHECK(strcmp(kf.name, name) == 0 && memcmp(kf.file, b.data, KEY_FILE_LEN) == 0);
	why[0] = 0;
	CHECK(key_file_check(&kf, "keys/0000", b.data, b.len, why, sizeof(why)) < 0);
	CHECK(strstr(why, "'keys/0000' is not named by its SHA-256") && strstr(why, name));
	b.data[100] ^= 1; /* damage in the sealed part: the name no longer fits */
	CHECK(key_file_check(&kf, name, b.data, b.len, why, sizeof(why)) < 0);
	b.data[100] ^= 1;
	b.data[14] = 32;
	key_file_name(name, b.data, b.len); /* named right, over the cap */
	CHECK(key_file_check(&kf, name, b.data, b.len, why, sizeof(why)) == -E2BIG);
	CHECK(strstr(why, "costlier scrypt") && strstr(why, name));
	buf_release(&b);
}

TEST(key_files_are_tried_cheapest_first)
{
	key_file v[5];
	unsigned log_n[5] = { 22, 10, 15, 10, 12 };
	const char *names[5] = { "keys/a", "keys/d", "keys/b", "keys/c", "keys/e" };
	for (int i = 0; i < 5; i++) {
		key_params kp = { log_n[i], 8, 1 };
		memset(&v[i], 0, sizeof(v[i]));
		snprintf(v[i].name, sizeof(v[i].name), "%s", names[i]);
		v[i].cost = key_params_cost(&kp);
	}
	key_files_sort(v, 5);
	const char *want[5] = { "keys/c", "keys/d", "keys/e", "keys/b", "keys/a" };
	for (int i = 0; i < 5; i++)
		CHECK(strcmp(v[i].name, want[i]) == 0);
	key_files_sort(v, 0);
}
