// SPDX-License-Identifier: GPL-2.0
/*
 * unionfs against overlayfs, same boot, same layers on one tmpfs (two lower
 * layers, read-only unions): stat() of 10,000 files (first walk, names not
 * cached yet, and again with the names cached), listing a merged directory
 * of 10,000 + 10,000 entries, and open + read + close of 10,000 small files.
 * Each figure is the best of 3 runs. Prints a table and one "target" line
 * per operation: unionfs must take at most 1.1 times overlayfs's time.
 *
 * Needs root, overlay.ko and unionfs.ko loaded.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FILES 10000
#define RUNS 3

static char base[32];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void make_file(const char *path, const char *data)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		die(path);
	close(fd);
}

static void make_layers(void)
{
	char p[256];
	int i;

	for (i = 1; i <= 2; i++) {
		snprintf(p, sizeof(p), "%s/l%d", base, i);
		if (mkdir(p, 0755))
			die(p);
		snprintf(p, sizeof(p), "%s/l%d/s", base, i);
		if (mkdir(p, 0755))
			die(p);
		snprintf(p, sizeof(p), "%s/l%d/r", base, i);
		if (mkdir(p, 0755))
			die(p);
	}
	/* s: 10,000 small files, half in each layer, in one merged directory. */
	for (i = 0; i < FILES; i++) {
		snprintf(p, sizeof(p), "%s/l%d/s/f%05d", base, 1 + i % 2, i);
		make_file(p, "small file\n");
	}
	/* r: 10,000 entries in each layer. */
	for (i = 0; i < 2 * FILES; i++) {
		snprintf(p, sizeof(p), "%s/l%d/r/e%05d", base, 1 + i % 2, i);
		if (mknod(p, S_IFREG | 0644, 0))
			die(p);
	}
}

static void mount_union(const char *type, const char *dir)
{
	char opts[256], p[256];

	snprintf(p, sizeof(p), "%s/%s", base, dir);
	if (mkdir(p, 0755))
		die(p);
	snprintf(opts, sizeof(opts), "lowerdir=%s/l1:%s/l2", base, base);
	if (syscall(__NR_mount, type, p, type, 0, opts))
		die(type);
}

static void unmount_union(const char *dir)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", base, dir);
	if (syscall(__NR_umount2, p, 0))
		die(p);
	rmdir(p);
}

static double stat_all(const char *dir)
{
	char p[256];
	struct stat st;
	double t = now();
	int i;

	for (i = 0; i < FILES; i++) {
		snprintf(p, sizeof(p), "%s/%s/s/f%05d", base, dir, i);
		if (stat(p, &st))
			die(p);
	}
	return now() - t;
}

static double read_all(const char *dir)
{
	char p[256], buf[64];
	double t = now();
	int i, fd;

	for (i = 0; i < FILES; i++) {
		snprintf(p, sizeof(p), "%s/%s/s/f%05d", base, dir, i);
		fd = open(p, O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof(buf)) != 11)
			die(p);
		close(fd);
	}
	return now() - t;
}

static double list_merged(const char *dir)
{
	char p[256];
	double t = now();
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s/r", base, dir);
	d = opendir(p);
	if (!d)
		die(p);
	while (readdir(d))
		n++;
	closedir(d);
	if (n != 2 * FILES + 2) {
		fprintf(stderr, "%s: %d entries\n", p, n);
		exit(1);
	}
	return now() - t;
}

static double best(double (*op)(const char *), const char *dir)
{
	double b = 1e9, t;
	int i;

	for (i = 0; i < RUNS; i++) {
		t = op(dir);
		if (t < b)
			b = t;
	}
	return b;
}

struct row {
	const char *name, *what;
	double u, o;
};

int main(void)
{
	struct row rows[4] = {
		{ "stat-cold", "stat() of 10,000 files, first walk" },
		{ "stat-10k", "stat() of 10,000 files, names cached" },
		{ "readdir-20k", "list a merged directory of 10,000 + 10,000 entries" },
		{ "read-10k", "open + read + close of 10,000 small files" },
	};
	int i;

	snprintf(base, sizeof(base), "/tmp/unionfs_bench.XXXXXX");
	if (!mkdtemp(base))
		die("mkdtemp");
	if (syscall(__NR_mount, "tmpfs", base, "tmpfs", 0, NULL))
		die("tmpfs");
	make_layers();
	mount_union("unionfs", "u");
	mount_union("overlay", "o");

	/* First walks: each union looks the names up. */
	rows[0].u = stat_all("u");
	rows[0].o = stat_all("o");
	rows[1].u = best(stat_all, "u");
	rows[1].o = best(stat_all, "o");
	rows[2].u = best(list_merged, "u");
	rows[2].o = best(list_merged, "o");
	rows[3].u = best(read_all, "u");
	rows[3].o = best(read_all, "o");

	printf("%-56s %12s %12s %7s\n", "unionfs vs overlayfs (best of 3, ms)",
	       "unionfs", "overlayfs", "ratio");
	for (i = 0; i < 4; i++)
		printf("%-56s %12.1f %12.1f %7.2f\n", rows[i].what, rows[i].u * 1e3,
		       rows[i].o * 1e3, rows[i].u / rows[i].o);
	for (i = 0; i < 4; i++) {
		double ratio = rows[i].u / rows[i].o;

		printf("target unionfs-%s: measured %.2fx overlayfs, goal 1.10x: %s\n",
		       rows[i].name, ratio, ratio <= 1.10 ? "met" : "missed");
	}

	unmount_union("u");
	unmount_union("o");
	if (syscall(__NR_umount2, base, 0))
		die("umount");
	rmdir(base);
	return 0;
}
