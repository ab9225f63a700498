/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * replay: the main() of a fuzz target built without libFuzzer.  Feeds
 * every file named on the command line, and every regular file of every
 * directory named, to LLVMFuzzerTestOneInput() once, so `make test`
 * replays each checked-in corpus and each past crash input under
 * ASan/UBSan with gcc.  A sanitizer report or a failed invariant names
 * the input and aborts; a leak is checked after each input, so it is
 * pinned to the input that caused it.  Prints "<n> inputs" on success.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* Weak: present when linked with ASan (and LSan), absent otherwise. */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static char current[4096];

static void say_current(void)
{
	static const char pre[] = "replay: failing input: ";
	if (write(2, pre, sizeof(pre) - 1) < 0 || write(2, current, strlen(current)) < 0 ||
	    write(2, "\n", 1) < 0)
		return;
}

static void on_signal(int sig)
{
	say_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int read_file(const char *path, uint8_t **out, size_t *out_n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size > (64 << 20)) {
		close(fd);
		return -EFBIG;
	}
	size_t n = (size_t)st.st_size;
	/* one byte more so an empty file still has a valid pointer */
	uint8_t *p = malloc(n + 1);
	size_t got = 0;
	while (p && got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!p || got != n) {
		free(p);
		return -EIO;
	}
	*out = p;
	*out_n = n;
	return 0;
}

static int run_one(const char *path, int *leaks)
{
	uint8_t *p;
	size_t n;
	int r = read_file(path, &p, &n);
	if (r < 0) {
		fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(-r));
		return r;
	}
	snprintf(current, sizeof(current), "%s", path);
	/* an exact-size copy, so ASan sees a read past the end */
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact) {
		free(p);
		return -ENOMEM;
	}
	memcpy(exact, p, n);
	free(p);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check()) {
		fprintf(stderr, "replay: leak after input '%s'\n", path);
		(*leaks)++;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of a directory in name order, so runs are reproducible. */
static int run_dir(const char *dir, size_t *count, int *leaks)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **v = realloc(names, cap * sizeof(*v));
			if (!v) {
				r = -ENOMEM;
				break;
			}
			names = v;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		if (!(names[n] = malloc(len))) {
			r = -ENOMEM;
			break;
		}
		snprintf(names[n++], len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (r == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			r = run_one(names[i], leaks);
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int leaks = 0;
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(say_current);
	signal(SIGABRT, on_signal);
	signal(SIGSEGV, on_signal);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int r;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			r = run_dir(argv[i], &count, &leaks);
		} else {
			r = run_one(argv[i], &leaks);
			count++;
		}
		if (r < 0) {
			fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(-r));
			return 1;
		}
	}
	if (leaks)
		return 1;
	printf("%zu inputs\n", count);
	return 0;
}
