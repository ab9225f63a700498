/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fsio_write_bulk: whatever the size and the alignment of the data, and
 * whether the file system takes O_DIRECT (ext4, tmpfs since Linux 6.6) or
 * refuses it, the file holds exactly the bytes written.
 */
#include "harness.h"
#include "base/buf.h"
#include "base/fsio.h"

#include <fcntl.h>
#include <unistd.h>

static int bulk_round_trip(const char *dir, const uint8_t *p, size_t n)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/bulk", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = fsio_write_bulk(fd, p, n);
	/* the descriptor is left as it came: no O_DIRECT for later writes */
	int fl = fcntl(fd, F_GETFL);
	if (rc == 0 && (fl < 0 || (fl & O_DIRECT)))
		rc = -EINVAL;
	struct stat st;
	if (rc == 0 && (fstat(fd, &st) < 0 || (size_t)st.st_size != n))
		rc = -EIO;
	uint8_t *back = malloc(n ? n : 1);
	if (rc == 0 && !back)
		rc = -ENOMEM;
	rc = rc ?: fsio_pread_exact(fd, back, n, 0);
	if (rc == 0 && memcmp(back, p, n) != 0)
		rc = -EBADMSG;
	free(back);
	close(fd);
	unlink(path);
	return rc;
}

static void sizes_and_alignments(const char *dir)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 1 << 20, (1 << 20) + 1, (5 << 20) + 123,
					(9 << 20) + 4096 };
	buf b = BUF_INIT;
	REQUIRE(buf_reserve_aligned(&b, (10u << 20) + 8192, 4096) == 0);
	REQUIRE(((uintptr_t)b.data & 4095) == 0);
	test_fill(b.data, (10u << 20) + 8192, 11);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		static const size_t offs[] = { 0, 16, 4095 }; /* aligned, malloc's, odd */
		for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
			size_t off = offs[k];
			int rc = bulk_round_trip(dir, b.data + off, sizes[i]);
			CHECK(rc == 0);
			if (rc)
				fprintf(stderr, "  %s: %zu bytes at offset %zu: %d\n", dir, sizes[i], off, rc);
		}
	}
	buf_release(&b);
}

TEST(bulk_writes_read_back_exactly_on_disk)
{
	char dir[] = "/var/tmp/dvalin-fsio-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	sizes_and_alignments(dir);
	rmdir(dir);
}

TEST(bulk_writes_read_back_exactly_on_tmpfs)
{
	char dir[] = "/dev/shm/dvalin-fsio-XXXXXX";
	if (!mkdtemp(dir)) {
		printf("  no /dev/shm here: skipped\n");
		return;
	}
	sizes_and_alignments(dir);
	rmdir(dir);
}
