// SPDX-License-Identifier: GPL-2.0
/*
 * unionfs against overlayfs, same boot, same layers on one tmpfs (two lower
 * layers, read-only unions): stat() of 10,000 files (first walk, names not
 * cached yet, each union mounted afresh for each run, and again with the
 * names cached), listing a merged directory
 * of 10,000 + 10,000 entries, and open + read + close of 10,000 small files.
 * Then, on writable unions over a lower 64 MiB file with their upper layers
 * on a tmpfs of their own, each union mounted afresh for each run: copy-up
 * (open for appending and write one byte) and chmod of the file, with the
 * bytes the chmod wrote to the upper layer (growth of its tmpfs's usage).
 * unionfs runs with its defaults (metacopy=on), overlayfs with its own
 * (metacopy=off) and, as the fairer baseline for these two rows, with
 * metacopy=on; the ratio targets compare with the faster of the two.
 *
 * Each time is the best of 3 runs. Prints a table and one "target" line
 * per operation: unionfs must take at most 1.1 times overlayfs's time, and
 * its chmod must write no data.
 *
 * Needs root, overlay.ko and unionfs.ko loaded.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FILES 10000
#define RUNS 3
#define BIG (64 << 20)

static char base[32];
static char up[64];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Makes the directory the format names into p (256 bytes), or dies; returns p. */
static char *mkdirf(char *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, 256, fmt, ap);
	va_end(ap);
	if (mkdir(p, 0755))
		die(p);
	return p;
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
		mkdirf(p, "%s/l%d", base, i);
		mkdirf(p, "%s/l%d/s", base, i);
		mkdirf(p, "%s/l%d/r", base, i);
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

	mkdirf(p, "%s/%s", base, dir);
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

/* A 64 MiB file in a lower directory of its own, c. */
static void make_big(void)
{
	static char buf[1 << 20];
	char p[256];
	int fd, i;

	mkdirf(p, "%s/c", base);
	snprintf(p, sizeof(p), "%s/c/big", base);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		die(p);
	for (i = 0; i < BIG / (int)sizeof(buf); i++) {
		memset(buf, 'a' + i % 26, sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			die(p);
	}
	close(fd);
}

/*
 * Mounts a writable union of type on base/dir over c, its upper layer in up,
 * with the options extra ("" or ",option...").
 */
static void mount_rw(const char *type, const char *dir, const char *extra)
{
	char opts[512], p[256];

	mkdirf(p, "%s/%s-u", up, dir);
	mkdirf(p, "%s/%s-w", up, dir);
	mkdirf(p, "%s/%s", base, dir);
	snprintf(opts, sizeof(opts), "lowerdir=%s/c,upperdir=%s/%s-u,workdir=%s/%s-w%s", base,
		 up, dir, up, dir, extra);
	if (syscall(__NR_mount, type, p, type, 0, opts))
		die(type);
}

/* Unmounts it and empties its upper layer. */
static void unmount_rw(const char *dir)
{
	char cmd[512];

	unmount_union(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/%s-u %s/%s-w", up, dir, up, dir);
	if (system(cmd))
		die(cmd);
}

/* Bytes in use on the upper layers' tmpfs. */
static long long up_used(void)
{
	struct statvfs sv;

	if (statvfs(up, &sv))
		die(up);
	return (long long)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

/* Opens the lower 64 MiB file for appending and writes one byte: the copy-up. */
static double copy_up_once(const char *type, const char *dir, const char *extra)
{
	char p[256];
	struct stat st;
	double t;
	int fd;

	mount_rw(type, dir, extra);
	snprintf(p, sizeof(p), "%s/%s/big", base, dir);
	t = now();
	fd = open(p, O_WRONLY | O_APPEND);
	if (fd < 0 || write(fd, "!", 1) != 1)
		die(p);
	close(fd);
	t = now() - t;
	if (stat(p, &st) || st.st_size != BIG + 1)
		die("copy-up size");
	unmount_rw(dir);
	return t;
}

/* chmod of the lower 64 MiB file; *written gets the growth of the upper layer. */
static double chmod_once(const char *type, const char *dir, const char *extra,
			 long long *written)
{
	char p[256];
	long long before;
	struct stat st;
	double t;

	mount_rw(type, dir, extra);
	snprintf(p, sizeof(p), "%s/%s/big", base, dir);
	before = up_used();
	t = now();
	if (chmod(p, 0600))
		die(p);
	t = now() - t;
	*written = up_used() - before;
	if (stat(p, &st) || (st.st_mode & 07777) != 0600 || st.st_size != BIG)
		die("chmod");
	unmount_rw(dir);
	return t;
}

struct row {
	const char *name, *what;
	/* unionfs, overlayfs, overlayfs with metacopy=on (copy-up and chmod only) */
	double u, o, om;
};

int main(void)
{
	struct row rows[6] = {
		{ "stat-cold", "stat() of 10,000 files, first walk" },
		{ "stat-10k", "stat() of 10,000 files, names cached" },
		{ "readdir-20k", "list a merged directory of 10,000 + 10,000 entries" },
		{ "read-10k", "open + read + close of 10,000 small files" },
		{ "copy-up-64m", "copy-up of a 64 MiB file (append one byte)" },
		{ "chmod-64m", "chmod of a 64 MiB lower file" },
	};
	long long wu = 0, wo = 0, wom = 0, w;
	double t;
	int i;

	snprintf(base, sizeof(base), "/tmp/unionfs_bench.XXXXXX");
	if (!mkdtemp(base))
		die("mkdtemp");
	if (syscall(__NR_mount, "tmpfs", base, "tmpfs", 0, NULL))
		die("tmpfs");
	make_layers();
	/*
	 * First walks: each union, mounted afresh for each run, looks the
	 * names up; the two take turns at going first.
	 */
	rows[0].u = 1e9;
	rows[0].o = 1e9;
	for (i = 0; i < 2 * RUNS; i++) {
		const char *type = (i + i / 2) % 2 ? "overlay" : "unionfs";
		double *b = (i + i / 2) % 2 ? &rows[0].o : &rows[0].u;

		mount_union(type, "w");
		t = stat_all("w");
		*b = t < *b ? t : *b;
		unmount_union("w");
	}
	mount_union("unionfs", "u");
	mount_union("overlay", "o");
	stat_all("u");
	stat_all("o");
	rows[1].u = best(stat_all, "u");
	rows[1].o = best(stat_all, "o");
	rows[2].u = best(list_merged, "u");
	rows[2].o = best(list_merged, "o");
	rows[3].u = best(read_all, "u");
	rows[3].o = best(read_all, "o");
	unmount_union("u");
	unmount_union("o");

	/* Writable unions, mounted afresh for each run. */
	snprintf(up, sizeof(up), "%s/up", base);
	if (mkdir(up, 0755) || syscall(__NR_mount, "tmpfs", up, "tmpfs", 0, NULL))
		die(up);
	make_big();
	for (i = 4; i < 6; i++) {
		rows[i].u = 1e9;
		rows[i].o = 1e9;
		rows[i].om = 1e9;
	}
	/* The three take turns at going first. */
	for (i = 0; i < 3 * RUNS; i++) {
		static const char *const types[] = { "unionfs", "overlay", "overlay" };
		static const char *const extras[] = { "", "", ",metacopy=on" };
		static const char *const dirs[][2] = { { "cu", "mu" }, { "co", "mo" },
						       { "cm", "mm" } };
		int k = (i + i / 3) % 3;
		double *copy = k == 0 ? &rows[4].u : k == 1 ? &rows[4].o : &rows[4].om;
		double *mode = k == 0 ? &rows[5].u : k == 1 ? &rows[5].o : &rows[5].om;
		long long *most = k == 0 ? &wu : k == 1 ? &wo : &wom;

		t = copy_up_once(types[k], dirs[k][0], extras[k]);
		*copy = t < *copy ? t : *copy;
		t = chmod_once(types[k], dirs[k][1], extras[k], &w);
		*mode = t < *mode ? t : *mode;
		*most = w > *most ? w : *most;
	}

	printf("%-56s %12s %12s %7s\n", "unionfs vs overlayfs (best of 3, ms)",
	       "unionfs", "overlayfs", "ratio");
	for (i = 0; i < 6; i++)
		printf("%-56s %12.1f %12.1f %7.2f\n", rows[i].what, rows[i].u * 1e3,
		       rows[i].o * 1e3, rows[i].u / rows[i].o);
	printf("%-56s %12lld %12lld\n", "bytes the chmod wrote to the upper layer (most of 3)",
	       wu, wo);
	printf("%-56s %12s %12s %7s\n", "the same against overlayfs with metacopy=on",
	       "unionfs", "metacopy=on", "ratio");
	for (i = 4; i < 6; i++)
		printf("%-56s %12.1f %12.1f %7.2f\n", rows[i].what, rows[i].u * 1e3,
		       rows[i].om * 1e3, rows[i].u / rows[i].om);
	printf("%-56s %12lld %12lld\n", "bytes the chmod wrote to the upper layer (most of 3)",
	       wu, wom);
	for (i = 0; i < 6; i++) {
		/* The fairest baseline: overlayfs at its fastest setting. */
		double base = i >= 4 && rows[i].om < rows[i].o ? rows[i].om : rows[i].o;
		double ratio = rows[i].u / base;

		printf("target unionfs-%s: measured %.2fx overlayfs%s, goal 1.10x: %s\n",
		       rows[i].name, ratio, base == rows[i].om ? " metacopy=on" : "",
		       ratio <= 1.10 ? "met" : "missed");
	}
	printf("target unionfs-chmod-64m-bytes: measured %lld bytes written, goal 0 bytes: %s\n",
	       wu, wu == 0 ? "met" : "missed");

	if (syscall(__NR_umount2, up, 0))
		die("umount");
	if (syscall(__NR_umount2, base, 0))
		die("umount");
	rmdir(base);
	return 0;
}
