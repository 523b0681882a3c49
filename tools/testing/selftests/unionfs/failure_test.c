// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-up failures, unionfs against overlayfs in the same boot: the upper
 * layer's device failing writes (ext4 on dm-flakey with error_writes), and a
 * copy-up killed by SIGKILL or interrupted by a caught signal half-way.
 * Each must return an error (the same as overlayfs's), leave the lower file
 * and the union's view as they were, and leave no partial object in the
 * upper layer or the work directory. The same holds for allocation failures,
 * made one after another (fail-nth) in a mount, a copy-up and a merged
 * directory listing.
 *
 * Needs root, overlay.ko, unionfs.ko and dm-flakey.ko loaded, losetup,
 * dmsetup and mkfs.ext4.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "../kselftest/fail_nth.h"
#include "unionfs_util.h"

#define MIB (1024 * 1024)

/* The two filesystems under test: index 0 is unionfs, 1 overlayfs. */
static const char *const fs_type[2] = { "unionfs", "overlay" };

/* Runs a shell command and returns its first output line, without the newline. */
static int run_line(char *out, size_t size, const char *fmt, ...)
{
	char cmd[4 * PATH_LEN];
	va_list ap;
	FILE *p;
	int ret = -1;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(out, size, p)) {
		out[strcspn(out, "\n")] = 0;
		ret = 0;
	}
	if (pclose(p))
		ret = -1;
	return ret;
}

/* Byte i of the test data of a file: depends on the position and a seed. */
static void fill_chunk(char *buf, size_t len, uint64_t off, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = ((off + i) / 8) * 0x9e3779b97f4a7c15ULL + seed;

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static int put_data(const char *path, uint64_t size, unsigned int seed)
{
	char *buf = malloc(MIB);
	uint64_t off;
	int fd, ret = 0;

	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0 || !buf) {
		free(buf);
		return -EIO;
	}
	for (off = 0; off < size && !ret; off += MIB) {
		size_t len = size - off < MIB ? size - off : MIB;

		fill_chunk(buf, len, off, seed);
		if (write(fd, buf, len) != (ssize_t)len)
			ret = -EIO;
	}
	free(buf);
	if (close(fd))
		ret = -errno;
	return ret;
}

/* 0 if path holds exactly the test data of size and seed, else what differs. */
static int check_data(const char *path, uint64_t size, unsigned int seed)
{
	char *buf = malloc(MIB), *want = malloc(MIB);
	uint64_t off = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0 || !buf || !want) {
		ret = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, MIB)) > 0) {
		fill_chunk(want, n, off, seed);
		if (off + n > size || memcmp(buf, want, n)) {
			ret = 1;	/* wrong data */
			break;
		}
		off += n;
	}
	if (n < 0)
		ret = -errno;
	else if (!ret && off != size)
		ret = 2;	/* wrong size */
	close(fd);
out:
	free(buf);
	free(want);
	return ret;
}

/* The number of entries of a directory besides . and .., or -errno. */
static int count_entries(const char *path, char *first, size_t size)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!n && first)
			snprintf(first, size, "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static int mount_union(int which, const char *mnt, const char *lower, const char *upper,
		       const char *work, bool metacopy)
{
	char opts[4 * PATH_LEN];

	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s,metacopy=%s", lower,
		 upper, work, metacopy ? "on" : "off");
	return sys_mount(fs_type[which], mnt, fs_type[which], 0, opts);
}

/*
 * Makes the upper and work directories of union which in dir, its mount
 * point in base, and mounts it over lower: 0 or -errno.
 */
static int make_union(int which, const char *base, const char *dir, const char *lower,
		      char *upper, char *work, char *mnt)
{
	pathf(upper, "%s/upper", dir);
	pathf(work, "%s/work", dir);
	pathf(mnt, "%s/%s", base, fs_type[which]);
	if (mkdir(upper, 0755) || mkdir(work, 0755) || mkdir(mnt, 0755))
		return -errno;
	/* These tests are about copying data: chmod must copy it on both. */
	return mount_union(which, mnt, lower, upper, work, false);
}

/*
 * EIO: each union's upper layer and work directory are on an ext4 of its
 * own, on a device-mapper device over a loop device; the lower layer is on
 * tmpfs. Once the unions are mounted, the devices' tables are swapped for
 * dm-flakey in its down state with error_writes: reads work, every write
 * fails with EIO. Page cache writes only meet the device at writeback, so
 * a copy-up that did not sync its copy would succeed and lose its data later.
 */

#define EIO_SIZE (256 * 1024)

FIXTURE(eio) {
	char base[64];
	char lower[PATH_LEN];
	char img[2][PATH_LEN], loop[2][64], dm[2][64], ext[2][PATH_LEN];
	char upper[2][PATH_LEN], work[2][PATH_LEN], mnt[2][PATH_LEN];
	int dm_minor[2];
	bool ext_mounted[2], mounted[2], base_mounted;
	long tainted;
};

FIXTURE_VARIANT(eio) {
	const char *op;
	bool journal;
};

/*
 * With a journal, ext4 meets the failing device at its first metadata write
 * (the superblock, when the table swap thaws it; the journal then aborts),
 * so the copy-up fails when it creates its object. Without one, and swapped
 * without freezing the filesystem, only the copy's data and inode written
 * back by the copy-up's fsync() meet it.
 */
FIXTURE_VARIANT_ADD(eio, journal_write) {
	.op = "write",
	.journal = true,
};

FIXTURE_VARIANT_ADD(eio, journal_truncate) {
	.op = "truncate",
	.journal = true,
};

FIXTURE_VARIANT_ADD(eio, journal_chmod) {
	.op = "chmod",
	.journal = true,
};

FIXTURE_VARIANT_ADD(eio, nojournal_write) {
	.op = "write",
};

FIXTURE_VARIANT_ADD(eio, nojournal_truncate) {
	.op = "truncate",
};

FIXTURE_VARIANT_ADD(eio, nojournal_chmod) {
	.op = "chmod",
};

FIXTURE_SETUP(eio)
{
	char p[PATH_LEN], sectors[64], minor[64];
	int k;

	self->tainted = read_tainted();
	ASSERT_EQ(0, getuid()) TH_LOG("needs root");
	snprintf(self->base, sizeof(self->base), "/tmp/unionfs_eio.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	ASSERT_EQ(0, sys_mount("tmpfs", self->base, "tmpfs", 0, NULL));
	self->base_mounted = true;
	pathf(self->lower, "%s/lower", self->base);
	ASSERT_EQ(0, mkdir(self->lower, 0755));
	ASSERT_EQ(0, put_data(pathf(p, "%s/f", self->lower), EIO_SIZE, 1));
	for (k = 0; k < 2; k++) {
		pathf(self->img[k], "%s/img%d", self->base, k);
		ASSERT_EQ(0, run_line(self->loop[k], sizeof(self->loop[k]),
				      "truncate -s 32M %s && losetup -f --show %s",
				      self->img[k], self->img[k]));
		snprintf(self->dm[k], sizeof(self->dm[k]), "unionfs-eio-%d-%d", getpid(), k);
		ASSERT_EQ(0, run_line(sectors, sizeof(sectors), "blockdev --getsz %s",
				      self->loop[k]));
		ASSERT_EQ(0, system(pathf(p, "dmsetup create %s --table '0 %s linear %s 0'",
					  self->dm[k], sectors, self->loop[k])));
		ASSERT_EQ(0, run_line(minor, sizeof(minor),
				      "dmsetup info -c --noheadings -o minor %s", self->dm[k]));
		self->dm_minor[k] = atoi(minor);
		pathf(self->ext[k], "%s/ext%d", self->base, k);
		ASSERT_EQ(0, mkdir(self->ext[k], 0755));
		ASSERT_EQ(0, system(pathf(p, "mkfs.ext4 -q -F %s /dev/dm-%d && mount /dev/dm-%d %s",
					  variant->journal ? "" : "-O ^has_journal",
					  atoi(minor), atoi(minor), self->ext[k])));
		self->ext_mounted[k] = true;
		ASSERT_EQ(0, make_union(k, self->base, self->ext[k], self->lower, self->upper[k],
					self->work[k], self->mnt[k]));
		self->mounted[k] = true;
	}
	sync();
}

FIXTURE_TEARDOWN(eio)
{
	char p[PATH_LEN];
	int k;

	for (k = 0; k < 2; k++) {
		if (self->mounted[k])
			EXPECT_EQ(0, sys_umount(self->mnt[k]));
		/* An ext4 that saw write errors still unmounts. */
		if (self->ext_mounted[k])
			EXPECT_EQ(0, sys_umount(self->ext[k]));
		if (self->dm[k][0])
			EXPECT_EQ(0, system(pathf(p, "dmsetup remove %s", self->dm[k])));
		if (self->loop[k][0])
			EXPECT_EQ(0, system(pathf(p, "losetup -d %s", self->loop[k])));
	}
	if (self->base_mounted)
		EXPECT_EQ(0, sys_umount(self->base));
	rmdir(self->base);
	EXPECT_EQ(self->tainted, read_tainted());
}

/* The operation of the variant on path: 0 or -errno. */
static int eio_op(const char *op, const char *path)
{
	int fd, ret = 0;

	if (!strcmp(op, "write")) {
		fd = open(path, O_WRONLY);
		if (fd < 0)
			return -errno;
		if (pwrite(fd, "x", 1, 0) != 1)
			ret = -errno;
		if (close(fd) && !ret)
			ret = -errno;
		return ret;
	}
	if (!strcmp(op, "truncate"))
		return truncate(path, 1) ? -errno : 0;
	return chmod(path, 0600) ? -errno : 0;
}

/*
 * Tell whoever reads the kernel log that the filesystem errors it is about
 * to show for this device are the test's doing, not a bug.
 */
static void expect_io_errors(int minor)
{
	FILE *kmsg = fopen("/dev/kmsg", "w");

	if (kmsg) {
		fprintf(kmsg,
			"unionfs failure_test: dm-%d fails writes on purpose: expect I/O errors\n",
			minor);
		fclose(kmsg);
	}
}

/*
 * A copy-up onto a device that fails writes returns the error overlayfs
 * returns, on the first try and on a second one, and changes nothing:
 * neither the lower file nor what the union shows, and no object appears in
 * the upper layer or stays in the work directory.
 */
TEST_F(eio, copy_up)
{
	static const char flakey[] =
		"dmsetup load %s --table '0 %s flakey %s 0 0 1 1 error_writes'&&dmsetup resume %s";
	static const char nofreeze[] = "dmsetup suspend --nolockfs %s";
	char p[PATH_LEN], sectors[64], name[256];
	struct stat st;
	int k, err[2], again[2], n;

	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, run_line(sectors, sizeof(sectors), "blockdev --getsz %s",
				      self->loop[k]));
		if (!variant->journal)
			ASSERT_EQ(0, system(pathf(p, nofreeze, self->dm[k])));
		/* Down from the start (up 0 s, down 1 s): writes fail, reads work. */
		ASSERT_EQ(0, system(pathf(p, flakey, self->dm[k], sectors, self->loop[k],
					  self->dm[k])));
		expect_io_errors(self->dm_minor[k]);
	}
	for (k = 0; k < 2; k++) {
		err[k] = eio_op(variant->op, pathf(p, "%s/f", self->mnt[k]));
		again[k] = eio_op(variant->op, p);
	}
	TH_LOG("%s, %s: unionfs %d then %d, overlayfs %d then %d", variant->op,
	       variant->journal ? "journal" : "no journal", err[0], again[0], err[1], again[1]);
	if (variant->journal) {
		/*
		 * jbd2 aborts the journal at its first failed commit, which
		 * may come before or after a call's own first write: each
		 * call then fails with EIO or EROFS, on either filesystem.
		 */
		for (k = 0; k < 2; k++) {
			EXPECT_TRUE(err[k] == -EIO || err[k] == -EROFS)
				TH_LOG("%s", fs_type[k]);
			EXPECT_TRUE(again[k] == -EIO || again[k] == -EROFS)
				TH_LOG("%s", fs_type[k]);
		}
	} else {
		EXPECT_EQ(-EIO, err[1]);
		EXPECT_EQ(err[1], err[0]);
		EXPECT_EQ(again[1], again[0]);
		EXPECT_NE(0, again[0]);
	}
	for (k = 0; k < 2; k++) {
		/* The union still shows the lower file, whole and unchanged. */
		ASSERT_EQ(0, stat(pathf(p, "%s/f", self->mnt[k]), &st));
		EXPECT_EQ(EIO_SIZE, st.st_size);
		EXPECT_EQ(0100644, st.st_mode);
		EXPECT_EQ(0, check_data(p, EIO_SIZE, 1)) TH_LOG("%s", fs_type[k]);
		/* Nothing in the upper layer, nothing left in the work directory. */
		EXPECT_EQ(-1, lstat(pathf(p, "%s/f", self->upper[k]), &st));
		EXPECT_EQ(ENOENT, errno);
		EXPECT_EQ(0, count_entries(self->upper[k], NULL, 0));
		name[0] = 0;
		n = count_entries(pathf(p, "%s/work", self->work[k]), name, sizeof(name));
		EXPECT_EQ(0, n) TH_LOG("%s: work directory holds %s", fs_type[k], name);
	}
	ASSERT_EQ(0, check_data(pathf(p, "%s/f", self->lower), EIO_SIZE, 1));
	ASSERT_EQ(0, stat(p, &st));
	EXPECT_EQ(0100644, st.st_mode);
}

/*
 * SIGKILL during the copy-up of a large file: each union's upper layer and
 * work directory are on a tmpfs of their own, whose used space shows the
 * copy's progress; the writer is killed once part of the file is copied.
 */

#define BIG_SIZE (256ULL * MIB)
#define MID_SIZE (32ULL * MIB)

FIXTURE(sigkill) {
	char base[64];
	char lower[PATH_LEN];
	char up[2][PATH_LEN], upper[2][PATH_LEN], work[2][PATH_LEN], mnt[2][PATH_LEN];
	bool up_mounted[2], mounted[2];
	long tainted;
};

FIXTURE_SETUP(sigkill)
{
	char p[PATH_LEN];
	int k;

	self->tainted = read_tainted();
	ASSERT_EQ(0, getuid()) TH_LOG("needs root");
	snprintf(self->base, sizeof(self->base), "/tmp/unionfs_sigkill.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	pathf(self->lower, "%s/lower", self->base);
	ASSERT_EQ(0, mkdir(self->lower, 0755));
	ASSERT_EQ(0, sys_mount("tmpfs", self->lower, "tmpfs", 0, NULL));
	ASSERT_EQ(0, put_data(pathf(p, "%s/big", self->lower), BIG_SIZE, 2));
	ASSERT_EQ(0, put_data(pathf(p, "%s/small", self->lower), 4096, 3));
	ASSERT_EQ(0, put_data(pathf(p, "%s/mid", self->lower), MID_SIZE, 4));
	for (k = 0; k < 2; k++) {
		pathf(self->up[k], "%s/up%d", self->base, k);
		ASSERT_EQ(0, mkdir(self->up[k], 0755));
		ASSERT_EQ(0, sys_mount("tmpfs", self->up[k], "tmpfs", 0, NULL));
		self->up_mounted[k] = true;
		ASSERT_EQ(0, make_union(k, self->base, self->up[k], self->lower, self->upper[k],
					self->work[k], self->mnt[k]));
		self->mounted[k] = true;
	}
}

FIXTURE_TEARDOWN(sigkill)
{
	int k;

	for (k = 0; k < 2; k++) {
		if (self->mounted[k])
			EXPECT_EQ(0, sys_umount(self->mnt[k]));
		if (self->up_mounted[k])
			EXPECT_EQ(0, sys_umount(self->up[k]));
		rmdir(self->mnt[k]);
		rmdir(self->up[k]);
	}
	if (self->lower[0])
		sys_umount(self->lower);
	rmdir(self->lower);
	rmdir(self->base);
	EXPECT_EQ(self->tainted, read_tainted());
}

/* Bytes in use on the filesystem of path. */
static uint64_t used_bytes(const char *path)
{
	struct statvfs sv;

	if (statvfs(path, &sv))
		return 0;
	return (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A writer killed while its open() copies the file up: the open never
 * returns, the copy stops within a chunk, and what was copied is removed
 * before the writer is reaped. The union then shows the lower file whole,
 * the upper layer and the work directory are empty, and the space the
 * partial copy took is free again. A later copy-up works.
 */
TEST_F(sigkill, copy_up)
{
	char p[PATH_LEN], name[256];
	uint64_t before, used, peak;
	struct stat st;
	int k, status, n;
	double t0, killed;
	pid_t pid;

	for (k = 0; k < 2; k++) {
		before = used_bytes(self->up[k]);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			int fd = open(pathf(p, "%s/big", self->mnt[k]), O_WRONLY);

			/* Reached only if the copy-up was not interrupted. */
			_exit(fd < 0 ? 1 : 0);
		}
		/* Kill it once 16 MiB of the copy are in the upper layer's filesystem. */
		t0 = now_s();
		for (;;) {
			used = used_bytes(self->up[k]);
			if (used >= before + 16 * MIB || now_s() - t0 > 120)
				break;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				pid = 0;
				break;
			}
			usleep(1000);
		}
		ASSERT_NE(0, pid) TH_LOG("%s: copy-up ended before the kill", fs_type[k]);
		peak = used;
		ASSERT_EQ(0, kill(pid, SIGKILL));
		killed = now_s();
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		TH_LOG("%s: killed at %llu MiB copied, reaped %.3f s later", fs_type[k],
		       (unsigned long long)((peak - before) / MIB), now_s() - killed);
		ASSERT_TRUE(WIFSIGNALED(status)) TH_LOG("copy-up ended before the kill");
		EXPECT_EQ(SIGKILL, WTERMSIG(status));
		ASSERT_LE(before + 16 * MIB, peak);
		ASSERT_GT(before + BIG_SIZE, peak);

		/* No partial object anywhere, and its space is free again. */
		EXPECT_EQ(-1, lstat(pathf(p, "%s/big", self->upper[k]), &st));
		EXPECT_EQ(ENOENT, errno);
		EXPECT_EQ(0, count_entries(self->upper[k], NULL, 0));
		name[0] = 0;
		n = count_entries(pathf(p, "%s/work", self->work[k]), name, sizeof(name));
		EXPECT_EQ(0, n) TH_LOG("%s: work directory holds %s", fs_type[k], name);
		EXPECT_GE(before + MIB, used_bytes(self->up[k]))
			TH_LOG("%s: %llu bytes used before, %llu after", fs_type[k],
			       (unsigned long long)before,
			       (unsigned long long)used_bytes(self->up[k]));
		/* The union shows the lower file, whole. */
		ASSERT_EQ(0, stat(pathf(p, "%s/big", self->mnt[k]), &st));
		EXPECT_EQ(BIG_SIZE, st.st_size);
		EXPECT_EQ(0, check_data(p, BIG_SIZE, 2)) TH_LOG("%s", fs_type[k]);

		/* The next copy-up succeeds and leaves the work directory empty. */
		n = open(pathf(p, "%s/small", self->mnt[k]), O_WRONLY | O_APPEND);
		ASSERT_LE(0, n);
		EXPECT_EQ(1, write(n, "!", 1));
		EXPECT_EQ(0, close(n));
		EXPECT_EQ(0, lstat(pathf(p, "%s/small", self->upper[k]), &st));
		EXPECT_EQ(4097, st.st_size);
		EXPECT_EQ(0, count_entries(pathf(p, "%s/work", self->work[k]), NULL, 0));

		/* And after a remount, too. */
		ASSERT_EQ(0, sys_umount(self->mnt[k]));
		self->mounted[k] = false;
		ASSERT_EQ(0, mount_union(k, self->mnt[k], self->lower, self->upper[k],
					 self->work[k], false));
		self->mounted[k] = true;
		EXPECT_EQ(0, count_entries(pathf(p, "%s/work", self->work[k]), NULL, 0));
		EXPECT_EQ(0, check_data(pathf(p, "%s/big", self->mnt[k]), BIG_SIZE, 2));
	}
	EXPECT_EQ(0, check_data(pathf(p, "%s/big", self->lower), BIG_SIZE, 2));
}

static void on_usr1(int sig)
{
}

/*
 * Starts a task whose open() for writing copies up mid through the union at
 * mnt, whose upper layer is on the filesystem of up, with SIGUSR1 caught
 * (with SA_RESTART if restart); sends it SIGUSR1 every millisecond once
 * 4 MiB are copied, at most max times. Returns its wait status and the
 * number of signals sent.
 */
static int signalled_copy_up(const char *up, const char *mnt, bool restart, long max,
			     long *sent)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0 };
	uint64_t before = used_bytes(up);
	char p[PATH_LEN];
	int status;
	pid_t pid;

	/* Caught from the start in the child, which inherits the action. */
	sigaction(SIGUSR1, &sa, NULL);
	pid = fork();
	if (!pid) {
		int fd = open(pathf(p, "%s/mid", mnt), O_WRONLY | O_APPEND);

		if (fd < 0)
			_exit(errno);
		_exit(write(fd, "!", 1) == 1 && !close(fd) ? 0 : 100);
	}
	for (*sent = 0; pid > 0 && waitpid(pid, &status, WNOHANG) == 0; usleep(1000)) {
		if (*sent < max && used_bytes(up) >= before + 4 * MIB) {
			kill(pid, SIGUSR1);
			++*sent;
		}
	}
	return pid > 0 ? status : -1;
}

/*
 * A caught signal interrupts a copy-up as it interrupts a splice: the data
 * copy stops and the system call fails with EINTR (on overlayfs too), or is
 * restarted with SA_RESTART. Either way nothing partial is left; a restarted
 * open copies the whole file.
 */
TEST_F(sigkill, caught_signal)
{
	char p[PATH_LEN];
	int k, status;
	long sent;

	for (k = 0; k < 2; k++) {
		status = signalled_copy_up(self->up[k], self->mnt[k], false, 1000000, &sent);
		TH_LOG("%s: %ld signals sent during the copy-up, exit %d", fs_type[k], sent,
		       WEXITSTATUS(status));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_LT(0, sent);
		EXPECT_EQ(EINTR, WEXITSTATUS(status));
		EXPECT_EQ(-1, access(pathf(p, "%s/mid", self->upper[k]), F_OK));
		EXPECT_EQ(0, count_entries(pathf(p, "%s/work", self->work[k]), NULL, 0));
		EXPECT_EQ(0, check_data(pathf(p, "%s/mid", self->mnt[k]), MID_SIZE, 4));

		/* Three signals, then none: the restarted open completes. */
		status = signalled_copy_up(self->up[k], self->mnt[k], true, 3, &sent);
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s: %s", fs_type[k],
							 strerror(WEXITSTATUS(status)));
		EXPECT_EQ(3, sent);
		ASSERT_EQ(0, truncate(pathf(p, "%s/mid", self->mnt[k]), MID_SIZE));
		EXPECT_EQ(0, check_data(pathf(p, "%s/mid", self->upper[k]), MID_SIZE, 4));
		EXPECT_EQ(0, count_entries(pathf(p, "%s/work", self->work[k]), NULL, 0));
	}
}

/* Whether the upper file path has an (empty) metacopy attribute: 0 or -errno. */
static int metacopy_attr(const char *path)
{
	return lgetxattr(path, "trusted.overlay.metacopy", NULL, 0) ? -errno : 0;
}

/*
 * A writer killed while its open() copies the data of a metacopy file (a
 * chmod made the upper file, with metacopy=on on both): the upper file stays
 * a metacopy, so the union still shows the lower data, with the new mode.
 * unionfs also gives back the blocks of the partial copy; overlayfs keeps
 * them, unused. The next open for writing copies the data and drops the
 * attribute.
 */
TEST_F(sigkill, metacopy_data)
{
	char p[PATH_LEN];
	uint64_t before, used;
	struct stat st;
	int k, status, fd;
	double t0;
	pid_t pid;

	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, sys_umount(self->mnt[k]));
		self->mounted[k] = false;
		ASSERT_EQ(0, mount_union(k, self->mnt[k], self->lower, self->upper[k],
					 self->work[k], true));
		self->mounted[k] = true;

		ASSERT_EQ(0, chmod(pathf(p, "%s/big", self->mnt[k]), 0600));
		ASSERT_EQ(0, metacopy_attr(pathf(p, "%s/big", self->upper[k])))
			TH_LOG("%s", fs_type[k]);
		before = used_bytes(self->up[k]);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			fd = open(pathf(p, "%s/big", self->mnt[k]), O_WRONLY);
			_exit(fd < 0 ? 1 : 0);
		}
		t0 = now_s();
		do {
			used = used_bytes(self->up[k]);
			if (waitpid(pid, &status, WNOHANG) == pid) {
				pid = 0;
				break;
			}
			usleep(1000);
		} while (used < before + 16 * MIB && now_s() - t0 < 120);
		ASSERT_NE(0, pid) TH_LOG("%s: data copy ended before the kill", fs_type[k]);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFSIGNALED(status)) TH_LOG("data copy ended before the kill");
		ASSERT_LE(before + 16 * MIB, used);
		TH_LOG("%s: killed at %llu MiB copied, %llu MiB in use after", fs_type[k],
		       (unsigned long long)((used - before) / MIB),
		       (unsigned long long)((used_bytes(self->up[k]) - before) / MIB));

		/* Still a metacopy, showing the lower data with the new mode. */
		EXPECT_EQ(0, metacopy_attr(pathf(p, "%s/big", self->upper[k])))
			TH_LOG("%s", fs_type[k]);
		EXPECT_EQ(0, count_entries(pathf(p, "%s/work", self->work[k]), NULL, 0));
		ASSERT_EQ(0, stat(pathf(p, "%s/big", self->mnt[k]), &st));
		EXPECT_EQ(0600, st.st_mode & 07777);
		EXPECT_EQ(BIG_SIZE, st.st_size);
		EXPECT_EQ(0, check_data(p, BIG_SIZE, 2)) TH_LOG("%s", fs_type[k]);
		if (!k)
			EXPECT_GE(before + MIB, used_bytes(self->up[k]));

		/* The next open for writing copies the data and drops the attribute. */
		fd = open(p, O_WRONLY);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, close(fd));
		EXPECT_EQ(-ENODATA, metacopy_attr(pathf(p, "%s/big", self->upper[k])));
		EXPECT_EQ(0, check_data(p, BIG_SIZE, 2)) TH_LOG("%s", fs_type[k]);
		EXPECT_EQ(0, count_entries(pathf(p, "%s/work", self->work[k]), NULL, 0));
	}
	EXPECT_EQ(0, check_data(pathf(p, "%s/big", self->lower), BIG_SIZE, 2));
}

/*
 * Allocation failures, one after another (fail-nth), in a mount, a copy-up
 * and a merged directory listing of each union, on layers on tmpfs: each
 * failure gives ENOMEM (or ENOSPC, tmpfs's word for a failed inode
 * allocation) and leaves no partial object: a copy-up that failed is either
 * not in the upper layer or there whole (the failure came after it, in the
 * open); the kmemleak scan and the kernel log checks catch what is left.
 */

/* Lower files for the copy-up sweep: more than its failure points. */
#define FAULT_FILES 400
#define FAULT_ENTRIES 20

FIXTURE(fault) {
	char base[64];
	char lower[PATH_LEN];
	char up[2][PATH_LEN], upper[2][PATH_LEN], work[2][PATH_LEN], mnt[2][PATH_LEN];
	bool base_mounted, mounted[2];
	int nth;
	long tainted;
};

FIXTURE_SETUP(fault)
{
	char p[PATH_LEN];
	int k, i;

	self->nth = -1;
	self->tainted = read_tainted();
	snprintf(self->base, sizeof(self->base), "/tmp/unionfs-fault-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	ASSERT_EQ(0, sys_mount("tmpfs", self->base, "tmpfs", 0, NULL));
	self->base_mounted = true;
	pathf(self->lower, "%s/lower", self->base);
	ASSERT_EQ(0, mkdir(self->lower, 0755));
	ASSERT_EQ(0, mkdir(pathf(p, "%s/d", self->lower), 0755));
	for (i = 0; i < FAULT_ENTRIES; i++)
		ASSERT_EQ(0, put_data(pathf(p, "%s/d/lower-%d", self->lower, i), 0, 0));
	for (i = 0; i < FAULT_FILES; i++)
		ASSERT_EQ(0, put_data(pathf(p, "%s/c%d", self->lower, i), 8192, i));
	for (k = 0; k < 2; k++) {
		pathf(self->up[k], "%s/up%d", self->base, k);
		ASSERT_EQ(0, mkdir(self->up[k], 0755));
		ASSERT_EQ(0, make_union(k, self->base, self->up[k], self->lower, self->upper[k],
					self->work[k], self->mnt[k]));
		self->mounted[k] = true;
		/* d is merged: entries in both layers. */
		for (i = 0; i < FAULT_ENTRIES; i++)
			ASSERT_EQ(0, put_data(pathf(p, "%s/d/upper-%d", self->mnt[k], i), 0, 0));
	}
	self->nth = fail_nth_open();
	if (self->nth == -ENOENT)
		SKIP(return, "no fault injection (fail-nth, failslab) in this kernel");
	ASSERT_LE(0, self->nth);
}

FIXTURE_TEARDOWN(fault)
{
	int k;

	if (self->nth >= 0)
		close(self->nth);
	for (k = 0; k < 2; k++)
		if (self->mounted[k])
			EXPECT_EQ(0, sys_umount(self->mnt[k]));
	if (self->base_mounted)
		EXPECT_EQ(0, sys_umount(self->base));
	rmdir(self->base);
	EXPECT_EQ(self->tainted, read_tainted());
}

/*
 * The end of step n of a sweep whose result is ret (0 or -errno): true when
 * the step did not reach its nth failure point, which ends the sweep.
 */
static bool fault_step_done(struct __test_metadata *_metadata, int nth, int which,
			    unsigned int n, int ret)
{
	int injected = fail_nth_disarm(nth);

	EXPECT_LE(0, injected);
	if (ret) {
		EXPECT_EQ(1, injected) TH_LOG("%s, point %u: %d without an injected failure",
					      fs_type[which], n, ret);
		/* tmpfs reports a failed inode allocation as ENOSPC. */
		EXPECT_TRUE(ret == -ENOMEM || ret == -ENOSPC)
			TH_LOG("%s, point %u: %d", fs_type[which], n, ret);
	}
	return injected != 1;
}

TEST_F(fault, mount)
{
	char mnt[PATH_LEN], p[PATH_LEN];
	unsigned int n;
	struct stat st;
	int k, ret;

	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, mkdir(pathf(mnt, "%s/m%d", self->base, k), 0755));
		pathf(p, "%s/c0", mnt);
		for (n = 1; n < 5000; n++) {
			ASSERT_EQ(0, fail_nth_arm(self->nth, n));
			ret = mount_union(k, mnt, self->lower, self->upper[k], self->work[k],
					  false);
			if (fault_step_done(_metadata, self->nth, k, n, ret))
				break;
			if (!ret) {
				EXPECT_EQ(0, sys_umount(mnt));
			} else {
				/* Nothing is mounted there. */
				EXPECT_EQ(-1, stat(p, &st)) TH_LOG("%s, point %u", fs_type[k], n);
			}
		}
		ASSERT_EQ(0, ret);
		EXPECT_EQ(0, stat(p, &st));
		EXPECT_EQ(0, sys_umount(mnt));
		TH_LOG("%s: mount reached %u failure points", fs_type[k], n - 1);
	}
}

TEST_F(fault, copy_up)
{
	char p[PATH_LEN], name[256];
	unsigned int n;
	struct stat st;
	int k, fd;

	for (k = 0; k < 2; k++) {
		for (n = 1; n < FAULT_FILES; n++) {
			pathf(p, "%s/c%u", self->mnt[k], n);
			ASSERT_EQ(0, fail_nth_arm(self->nth, n));
			fd = open(p, O_WRONLY);
			if (fault_step_done(_metadata, self->nth, k, n, fd < 0 ? -errno : 0)) {
				EXPECT_LE(0, fd);
				close(fd);
				break;
			}
			if (fd >= 0) {
				close(fd);
				continue;
			}
			/* The union shows the lower data; the upper layer none or all. */
			EXPECT_EQ(0, check_data(p, 8192, n)) TH_LOG("%s, point %u", fs_type[k], n);
			if (!lstat(pathf(p, "%s/c%u", self->upper[k], n), &st))
				EXPECT_EQ(0, check_data(p, 8192, n))
					TH_LOG("%s, point %u: partial copy", fs_type[k], n);
			name[0] = 0;
			pathf(p, "%s/work", self->work[k]);
			EXPECT_EQ(0, count_entries(p, name, sizeof(name)))
				TH_LOG("%s, point %u: work holds %s", fs_type[k], n, name);
		}
		ASSERT_LT(n, FAULT_FILES);
		TH_LOG("%s: copy-up reached %u failure points", fs_type[k], n - 1);
	}
}

/* Lists path with getdents64: the number of entries besides . and .., or -errno. */
static int list_entries(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_DIRECTORY), n = 0;
	long len, off;

	if (fd < 0)
		return -errno;
	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < len;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				n++;
			off += d->d_reclen;
		}
	}
	if (len < 0)
		n = -errno;
	close(fd);
	return n;
}

TEST_F(fault, merged_readdir)
{
	char p[PATH_LEN];
	unsigned int n;
	int k, ret;

	for (k = 0; k < 2; k++) {
		pathf(p, "%s/d", self->mnt[k]);
		for (n = 1; n < 5000; n++) {
			/* Cold: the merge is made anew, not taken from a cache. */
			ASSERT_EQ(0, fail_nth_write("/proc/sys/vm/drop_caches", "3"));
			ASSERT_EQ(0, fail_nth_arm(self->nth, n));
			ret = list_entries(p);
			if (fault_step_done(_metadata, self->nth, k, n, ret < 0 ? ret : 0))
				break;
			if (ret >= 0)
				EXPECT_EQ(2 * FAULT_ENTRIES, ret)
					TH_LOG("%s, point %u", fs_type[k], n);
		}
		EXPECT_EQ(2 * FAULT_ENTRIES, ret);
		TH_LOG("%s: merged listing reached %u failure points", fs_type[k], n - 1);
	}
}

TEST_HARNESS_MAIN
