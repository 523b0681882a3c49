// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of dirra's benchmark (not a test):
 *
 *   dirra_bench populate ROOT D N   make ROOT/d0 .. ROOT/d<D-1>, N entries
 *                                   each, created round-robin so that the
 *                                   blocks of the directories interleave on
 *                                   disk; the entries are hard links to a few
 *                                   files (linking is quicker than making
 *                                   inodes, which matters under emulation)
 *   dirra_bench files ROOT D N      make ROOT/f0 .. ROOT/f<D-1>, N empty files
 *                                   each (an inode each), round-robin
 *   dirra_bench list DIR [R]        read DIR with getdents64 (32 KiB buffer),
 *                                   R times (default 1), print "<entries of
 *                                   one pass> <milliseconds of all>"
 *   dirra_bench lsl DIR             one pass, and lstat() every entry after
 *                                   each getdents64 call, as 'ls -l' does
 *   dirra_bench waits DIR           one pass; print "<entries> <milliseconds>
 *                                   <milliseconds off the CPU>": the time not
 *                                   spent running, which for a cold listing
 *                                   is the time spent waiting for reads
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Links per file: below ext4's limit of 65000. */
#define LINKS_PER_FILE 60000

static int populate(const char *root, long d, long n)
{
	char path[4096], target[4096];
	long i, j;

	for (j = 0; j < d; j++) {
		snprintf(path, sizeof(path), "%s/d%ld", root, j);
		if (mkdir(path, 0755)) {
			perror(path);
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < d; j++) {
			snprintf(path, sizeof(path), "%s/d%ld/file-%07ld", root, j, i);
			snprintf(target, sizeof(target), "%s/target-%ld-%ld", root, j,
				 i / LINKS_PER_FILE);
			if (i % LINKS_PER_FILE == 0 && mknod(target, S_IFREG | 0644, 0)) {
				perror(target);
				return 1;
			}
			if (link(target, path)) {
				perror(path);
				return 1;
			}
		}
	sync();
	return 0;
}

/* Empty files, N in each of D directories, created round-robin. */
static int files(const char *root, long d, long n)
{
	char path[4096];
	long i, j;

	for (j = 0; j < d; j++) {
		snprintf(path, sizeof(path), "%s/f%ld", root, j);
		if (mkdir(path, 0755)) {
			perror(path);
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < d; j++) {
			snprintf(path, sizeof(path), "%s/f%ld/file-%07ld", root, j, i);
			if (mknod(path, S_IFREG | 0644, 0)) {
				perror(path);
				return 1;
			}
		}
	sync();
	return 0;
}

/* One pass over @dir; returns its entries, or -1. */
static long pass(const char *dir, int stat_each)
{
	static char buf[32768];
	long entries = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0) {
		perror(dir);
		return -1;
	}
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf)), off = 0;

		if (n < 0) {
			perror("getdents64");
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		while (off < n) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			struct stat st;

			entries++;
			off += d->d_reclen;
			if (stat_each && fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
				perror(d->d_name);
				close(fd);
				return -1;
			}
		}
	}
	close(fd);
	return entries;
}

static int list(const char *dir, int stat_each, long repeat)
{
	double t0 = now_ms();
	long entries = 0, i;

	for (i = 0; i < repeat; i++) {
		entries = pass(dir, stat_each);
		if (entries < 0)
			return 1;
	}
	printf("%ld %.1f\n", entries, now_ms() - t0);
	return 0;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int waits(const char *dir)
{
	double t0 = now_ms(), c0 = cpu_ms(), wall;
	long entries = pass(dir, 0);

	if (entries < 0)
		return 1;
	wall = now_ms() - t0;
	printf("%ld %.1f %.1f\n", entries, wall, wall - (cpu_ms() - c0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "populate"))
		return populate(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "files"))
		return files(argv[2], atol(argv[3]), atol(argv[4]));
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "list"))
		return list(argv[2], 0, argc == 4 ? atol(argv[3]) : 1);
	if (argc == 3 && !strcmp(argv[1], "lsl"))
		return list(argv[2], 1, 1);
	if (argc == 3 && !strcmp(argv[1], "waits"))
		return waits(argv[2]);
	fprintf(stderr,
		"usage: %s populate ROOT D N | files ROOT D N | list DIR [R] | lsl DIR | waits DIR\n",
		argv[0]);
	return 2;
}
