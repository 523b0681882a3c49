// SPDX-License-Identifier: GPL-2.0
/*
 * dirra: directory readahead must never change what getdents() returns, must
 * survive writers, unmount and module unload while it works, must count what
 * it does, and must refuse bad parameters.
 *
 * Each test makes a file system (ext2 or ext4, with mke2fs) in a file on
 * tmpfs, mounts it through a loop device, fills a directory and lists it cold
 * (after a remount and dropping caches) with dirra's "enable" parameter off
 * and on. Needs root, the dirra module loaded, and $KBUILD (the kernel build
 * directory) for the module load/unload tests.
 *
 * The "faults" tests fail allocations one after another (fail-nth) in
 * loading dirra and in a listing it reads ahead: the load fails with ENOMEM
 * and leaves nothing loaded, the listing fails with ENOMEM or is complete.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "../kselftest/fail_nth.h"

#define PARAMS "/sys/module/dirra/parameters/"
/*
 * Entries of the directory the behaviour tests use: above min_size (64 KiB)
 * on both file systems, and quick to make on ext2, whose inserts scan the
 * whole directory.
 */
#define ENTRIES 4000
#define STATS "/sys/kernel/debug/dirra/"

struct entry {
	char name[64];
	unsigned char type;
	/* From lstat(), by list_stat() only. */
	ino_t ino;
	mode_t mode;
};

struct listing {
	struct entry *e;
	size_t n, cap;
};

struct fs {
	char img[64];
	char mnt[64];
	char dev[32];
	char type[8];
	int loopfd;
};

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, val, strlen(val));
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

static long read_num(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	if (buf[0] == 'Y')
		return 1;
	if (buf[0] == 'N')
		return 0;
	return strtol(buf, NULL, 10);
}

static long stat_of(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), STATS "%s", name);
	return read_num(path);
}

static int set_param(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), PARAMS "%s", name);
	return write_file(path, val);
}

static int run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void cold_caches(void)
{
	sync();
	write_file("/proc/sys/vm/drop_caches", "3");
}

static int fs_mount(struct fs *fs)
{
	return mount(fs->dev, fs->mnt, fs->type, 0, NULL) ? -errno : 0;
}

/* Unmount, mount again and drop caches: the next listing reads the disk. */
static int fs_cold(struct fs *fs)
{
	if (umount(fs->mnt))
		return -errno;
	cold_caches();
	return fs_mount(fs);
}

/*
 * A file system of @type with room for @inodes inodes and @entries more
 * directory entries, with the mke2fs @features (or NULL), mounted.
 */
static int fs_make_ex(struct fs *fs, const char *type, const char *block, long inodes,
		      long entries, const char *features)
{
	char ninodes[24], size[24];
	struct loop_config cfg = { 0 };
	int ctl, n, fd;

	memset(fs, 0, sizeof(*fs));
	fs->loopfd = -1;
	snprintf(fs->type, sizeof(fs->type), "%s", type);
	snprintf(fs->img, sizeof(fs->img), "/tmp/dirra-img-XXXXXX");
	fd = mkstemp(fs->img);
	if (fd < 0)
		return -errno;
	close(fd);
	snprintf(ninodes, sizeof(ninodes), "%ld", inodes + 1024);
	/* Inode tables plus about 64 bytes of directory per entry. */
	snprintf(size, sizeof(size), "%ldk", 32768 + (inodes * (256 + 64) + entries * 64) / 1024);
	{
		char *const argv[] = { "mke2fs", "-q", "-F", "-t", (char *)type,
				 "-b", (char *)block, "-N", ninodes, fs->img, size,
				 features ? "-O" : NULL, (char *)features, NULL };

		if (run(argv))
			return -EIO;
	}
	ctl = open("/dev/loop-control", O_RDWR);
	if (ctl < 0)
		return -errno;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -errno;
	snprintf(fs->dev, sizeof(fs->dev), "/dev/loop%d", n);
	fs->loopfd = open(fs->dev, O_RDWR);
	if (fs->loopfd < 0)
		return -errno;
	fd = open(fs->img, O_RDWR);
	if (fd < 0)
		return -errno;
	cfg.fd = fd;
	/* Detach once the last user (us, or a lingering mount) is gone. */
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(fs->loopfd, LOOP_CONFIGURE, &cfg)) {
		close(fd);
		return -errno;
	}
	close(fd);
	snprintf(fs->mnt, sizeof(fs->mnt), "/tmp/dirra-mnt-XXXXXX");
	if (!mkdtemp(fs->mnt))
		return -errno;
	return fs_mount(fs);
}

/* A file system of @type with room for @inodes files, mounted. */
static int fs_make(struct fs *fs, const char *type, long inodes)
{
	return fs_make_ex(fs, type, "4096", inodes, 0, NULL);
}

/* Mounts @fs again as @type: the same disk through another driver. */
static int fs_remount_as(struct fs *fs, const char *type)
{
	if (umount(fs->mnt))
		return -errno;
	snprintf(fs->type, sizeof(fs->type), "%s", type);
	return fs_mount(fs);
}

/*
 * Unmounts @fs and removes it. Returns what e2fsck -fn says of the image (0:
 * clean): nothing dirra did, or a test did through it, may damage the disk.
 */
static int fs_destroy(struct fs *fs)
{
	int ret = -ENOENT;

	if (fs->mnt[0]) {
		if (!umount(fs->mnt) || errno == EINVAL) {
			char *const argv[] = { "e2fsck", "-fn", fs->img, NULL };

			ret = run(argv);
		}
		rmdir(fs->mnt);
	}
	if (fs->loopfd >= 0)
		close(fs->loopfd);
	if (fs->img[0])
		unlink(fs->img);
	return ret;
}

/* Fills @dir with @n entries: files, every 97th a directory, every 101st a symlink. */
static int populate(const char *dir, long n)
{
	char path[256];
	long i;

	if (mkdir(dir, 0755))
		return -errno;
	for (i = 0; i < n; i++) {
		int r;

		snprintf(path, sizeof(path), "%s/entry-%07ld", dir, i);
		if (i % 97 == 0)
			r = mkdir(path, 0755);
		else if (i % 101 == 0)
			r = symlink("target", path);
		else
			r = mknod(path, S_IFREG | 0644, 0);
		if (r)
			return -errno;
	}
	sync();
	return 0;
}

/* Links per inode: below ext2's limit of 32000. */
#define LINKS_PER_FILE 30000

/*
 * The same entries as populate(), made quicker: the files are hard links to a
 * few files and the symlinks hard links to one symlink (the targets sit next
 * to @dir), so that only the directories need an inode each. Filling 200,000
 * entries so takes minutes under emulation, not the best part of an hour.
 */
static int populate_links(const char *dir, long n)
{
	char file[256], link[256];
	long i, files = 0;
	int dfd, r = 0;

	if (mkdir(dir, 0755))
		return -errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return -errno;
	snprintf(link, sizeof(link), "%s.symlink", dir);
	if (symlink("target", link)) {
		close(dfd);
		return -errno;
	}
	for (i = 0; i < n && !r; i++) {
		char name[32];

		snprintf(name, sizeof(name), "entry-%07ld", i);
		if (i % 97 == 0) {
			r = mkdirat(dfd, name, 0755);
		} else if (i % 101 == 0) {
			r = linkat(AT_FDCWD, link, dfd, name, 0);
		} else {
			if (files++ % LINKS_PER_FILE == 0) {
				snprintf(file, sizeof(file), "%s.file-%ld", dir,
					 files / LINKS_PER_FILE);
				r = mknod(file, S_IFREG | 0644, 0);
			}
			r = r ?: linkat(AT_FDCWD, file, dfd, name, 0);
		}
		r = r ? -errno : 0;
	}
	close(dfd);
	sync();
	return r;
}

static void listing_free(struct listing *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* Lists the open directory @fd with getdents64 and a small buffer, in the
 * order returned, and closes it.
 */
static int list_fd_stat(int fd, struct listing *l, bool stat_each);

static int list_fd(int fd, struct listing *l)
{
	return list_fd_stat(fd, l, false);
}

/* The same, and with @stat_each, lstat() each entry after the getdents64 call
 * that returned it, as 'ls -l' does.
 */
static int list_fd_stat(int fd, struct listing *l, bool stat_each)
{
	char buf[4096];

	memset(l, 0, sizeof(*l));
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		long off = 0;

		if (n < 0) {
			close(fd);
			return -errno;
		}
		if (n == 0)
			break;
		while (off < n) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			size_t len;

			if (l->n == l->cap) {
				size_t cap = l->cap ? l->cap * 2 : 1024;
				struct entry *e = realloc(l->e, cap * sizeof(*e));

				if (!e) {
					close(fd);
					return -ENOMEM;
				}
				l->e = e;
				l->cap = cap;
			}
			len = strnlen(d->d_name, sizeof(l->e[l->n].name) - 1);
			memcpy(l->e[l->n].name, d->d_name, len);
			l->e[l->n].name[len] = '\0';
			l->e[l->n].type = d->d_type;
			if (stat_each) {
				struct stat st;

				if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
					close(fd);
					return -errno;
				}
				l->e[l->n].ino = st.st_ino;
				l->e[l->n].mode = st.st_mode;
			}
			l->n++;
			off += d->d_reclen;
		}
	}
	close(fd);
	return 0;
}

static int list_dir(const char *dir, struct listing *l)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return -errno;
	return list_fd(fd, l);
}

/* Lists @dir as 'ls -l' does. */
static int list_stat(const char *dir, struct listing *l)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return -errno;
	return list_fd_stat(fd, l, true);
}

static bool same_listing(const struct listing *a, const struct listing *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->e[i].name, b->e[i].name) || a->e[i].type != b->e[i].type)
			return false;
	return true;
}

/* Expected d_type of "entry-N", as populate() made it. */
static unsigned char type_of(long i)
{
	return i % 97 == 0 ? DT_DIR : i % 101 == 0 ? DT_LNK : DT_REG;
}

/* Every entry populate() made appears once, with its type; plus "." and "..". */
static bool complete_listing(const struct listing *l, long n)
{
	unsigned char *seen = calloc(n, 1);
	bool ok = true;
	size_t i;

	if (!seen)
		return false;
	for (i = 0; i < l->n && ok; i++) {
		long k;

		if (!strcmp(l->e[i].name, ".") || !strcmp(l->e[i].name, ".."))
			continue;
		if (sscanf(l->e[i].name, "entry-%ld", &k) != 1 || k < 0 || k >= n)
			continue;	/* a writer's file */
		ok = !seen[k] && l->e[i].type == type_of(k);
		seen[k] = 1;
	}
	for (i = 0; ok && i < (size_t)n; i++)
		ok = seen[i];
	free(seen);
	return ok;
}

/* Waits up to @ms for the counter @name to exceed @than; returns its value. */
/*
 * Forks a reader that lists dir cold, rounds times, and exits with 0 if every
 * listing held the n entries; returns its pid (or -1).
 */
static pid_t start_reader(const char *dir, long n, int rounds)
{
	pid_t pid = fork();
	int round;

	if (pid != 0)
		return pid;
	for (round = 0; round < rounds; round++) {
		struct listing l;

		cold_caches();
		if (list_dir(dir, &l) || !complete_listing(&l, n))
			_exit(1);
		listing_free(&l);
	}
	_exit(0);
}

static long wait_stat_above(const char *name, long than, int ms)
{
	long v;

	while ((v = stat_of(name)) <= than && ms > 0) {
		usleep(10000);
		ms -= 10;
	}
	return v;
}

/* Opens the build's dirra.ko ($KBUILD): a file descriptor or -errno. */
static int module_open(void)
{
	const char *kbuild = getenv("KBUILD");
	char path[512];
	int fd;

	if (!kbuild)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/fs/dirra/dirra.ko", kbuild);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int module_load(const char *params)
{
	int fd = module_open(), r;

	if (fd < 0)
		return fd;
	r = syscall(SYS_finit_module, fd, params, 0);
	r = r ? -errno : 0;
	close(fd);
	return r;
}

/*
 * Reads dirra.ko into memory, for module_load_image(): 0 or -errno. The
 * image is on the guest's root filesystem (9p).
 */
static int module_image(char **image, size_t *len)
{
	struct stat st;
	size_t got = 0;
	int fd, ret = 0;
	ssize_t r;

	*image = NULL;
	fd = module_open();
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || st.st_size <= 0) {
		ret = -EIO;
		goto out;
	}
	*image = malloc(st.st_size);
	if (!*image) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, *image + got, st.st_size - got);
		if (r <= 0) {
			ret = r ? -errno : -EIO;
			goto out;
		}
		got += r;
	}
	*len = got;
out:
	close(fd);
	if (ret) {
		free(*image);
		*image = NULL;
	}
	return ret;
}

/* Loads dirra from an image in memory (init_module): no file is read. */
static int module_load_image(const char *image, size_t len, const char *params)
{
	return syscall(SYS_init_module, image, len, params) ? -errno : 0;
}

static int module_unload(void)
{
	return syscall(SYS_delete_module, "dirra", O_NONBLOCK) ? -errno : 0;
}

FIXTURE(dirra) {
	struct fs fs;
	char dir[128];
};

FIXTURE_VARIANT(dirra) {
	const char *type;
};

FIXTURE_VARIANT_ADD(dirra, ext2) {
	.type = "ext2",
};

FIXTURE_VARIANT_ADD(dirra, ext4) {
	.type = "ext4",
};

FIXTURE_SETUP(dirra)
{
	ASSERT_EQ(0, access(PARAMS "enable", W_OK)) TH_LOG("dirra is not loaded");
	ASSERT_EQ(0, fs_make(&self->fs, variant->type, 20000));
	snprintf(self->dir, sizeof(self->dir), "%s/d", self->fs.mnt);
	ASSERT_EQ(0, set_param("enable", "1"));
}

FIXTURE_TEARDOWN(dirra)
{
	set_param("enable", "1");
	EXPECT_EQ(0, fs_destroy(&self->fs)) TH_LOG("e2fsck -fn found problems");
}

/* Lists the directory cold with dirra off, then on, and compares. */
static void check_identical(struct __test_metadata *_metadata, struct fs *fs,
			    const char *dir, long n)
{
	struct listing off, on;
	long dirs = stat_of("dirs_seen");
	bool big = n >= 10000;

	ASSERT_EQ(0, populate(dir, n));
	ASSERT_EQ(0, set_param("enable", "0"));
	ASSERT_EQ(0, fs_cold(fs));
	ASSERT_EQ(0, list_dir(dir, &off));
	EXPECT_EQ(stat_of("dirs_seen"), dirs);
	ASSERT_EQ(0, set_param("enable", "1"));
	ASSERT_EQ(0, fs_cold(fs));
	ASSERT_EQ(0, list_dir(dir, &on));
	EXPECT_EQ((size_t)n + 2, off.n);
	EXPECT_TRUE(complete_listing(&off, n));
	EXPECT_TRUE(same_listing(&off, &on));
	/* Only directories of min_size (64 KiB) and more are read ahead. */
	EXPECT_EQ(big ? dirs + 1 : dirs,
		  big ? wait_stat_above("dirs_seen", dirs, 2000) : stat_of("dirs_seen"));
	listing_free(&off);
	listing_free(&on);
}

TEST_F(dirra, identical_10)
{
	check_identical(_metadata, &self->fs, self->dir, 10);
}

TEST_F_TIMEOUT(dirra, identical_10000, 300)
{
	check_identical(_metadata, &self->fs, self->dir, 10000);
}

/*
 * Two directories filled in turns, so that their blocks interleave on the
 * disk: dirra reads each directory's blocks with the blocks between them, in
 * few requests (gap_pages counts those dropped or left aside), and the
 * listings stay the same as without dirra.
 */
TEST_F_TIMEOUT(dirra, interleaved, 300)
{
	struct listing off, on;
	char other[160], path[256];
	long i, gap;

	snprintf(other, sizeof(other), "%s/e", self->fs.mnt);
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	ASSERT_EQ(0, mkdir(other, 0755));
	for (i = 0; i < ENTRIES; i++) {
		snprintf(path, sizeof(path), "%s/entry-%07ld", self->dir, i);
		ASSERT_EQ(0, mknod(path, S_IFREG | 0644, 0));
		snprintf(path, sizeof(path), "%s/entry-%07ld", other, i);
		ASSERT_EQ(0, mknod(path, S_IFREG | 0644, 0));
	}
	sync();
	ASSERT_EQ(0, set_param("enable", "0"));
	ASSERT_EQ(0, fs_cold(&self->fs));
	ASSERT_EQ(0, list_dir(self->dir, &off));
	EXPECT_EQ((size_t)ENTRIES + 2, off.n);
	ASSERT_EQ(0, set_param("enable", "1"));
	ASSERT_EQ(0, set_param("gap", "8"));
	ASSERT_EQ(0, fs_cold(&self->fs));
	gap = stat_of("gap_pages");
	ASSERT_GE(gap, 0);
	ASSERT_EQ(0, list_dir(self->dir, &on));
	EXPECT_TRUE(same_listing(&off, &on));
	EXPECT_GT(wait_stat_above("gap_pages", gap, 2000), gap);
	listing_free(&on);

	/* Without joining reads: the same listing, no gap read. */
	ASSERT_EQ(0, set_param("gap", "0"));
	ASSERT_EQ(0, fs_cold(&self->fs));
	gap = stat_of("gap_pages");
	ASSERT_EQ(0, list_dir(self->dir, &on));
	EXPECT_TRUE(same_listing(&off, &on));
	usleep(200000);
	EXPECT_EQ(gap, stat_of("gap_pages"));
	set_param("gap", "8");
	listing_free(&on);
	listing_free(&off);
}

/* The counters move as Documentation/filesystems/dirra.rst says. */
TEST_F_TIMEOUT(dirra, counters, 300)
{
	long dirs, ios, pre, used, wasted, warm, backoffs;
	struct listing l;
	char buf[4096];
	int fd;

	ASSERT_EQ(0, populate(self->dir, ENTRIES));
	ASSERT_EQ(0, fs_cold(&self->fs));
	dirs = stat_of("dirs_seen");
	ios = stat_of("ios_issued");
	pre = stat_of("pages_prefetched");
	used = stat_of("pages_used");
	wasted = stat_of("pages_wasted");
	warm = stat_of("dirs_warm");
	backoffs = stat_of("backoffs");
	ASSERT_GE(dirs, 0);

	/* A cold listing: read ahead, then (at its end) audited as used. */
	ASSERT_EQ(0, list_dir(self->dir, &l));
	listing_free(&l);
	EXPECT_EQ(dirs + 1, wait_stat_above("dirs_seen", dirs, 2000));
	EXPECT_GT(stat_of("ios_issued"), ios);
	EXPECT_GT(wait_stat_above("pages_prefetched", pre, 2000), pre);
	EXPECT_GT(wait_stat_above("pages_used", used, 5000), used);
	/* All of it was used. */
	EXPECT_EQ(stat_of("pages_used") - used, stat_of("pages_prefetched") - pre);
	EXPECT_EQ(wasted, stat_of("pages_wasted"));

	/* Warm: nothing to read. */
	pre = stat_of("pages_prefetched");
	ASSERT_EQ(0, list_dir(self->dir, &l));
	listing_free(&l);
	EXPECT_EQ(warm + 1, wait_stat_above("dirs_warm", warm, 2000));
	EXPECT_EQ(pre, stat_of("pages_prefetched"));

	/* Start listings and stop after one call: the pages go unused, dirra backs off. */
	ASSERT_EQ(0, fs_cold(&self->fs));
	pre = stat_of("pages_prefetched");
	fd = open(self->dir, O_RDONLY | O_DIRECTORY);
	ASSERT_GE(fd, 0);
	ASSERT_GT(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
	close(fd);
	EXPECT_GT(wait_stat_above("pages_prefetched", pre, 2000), pre);
	/* Let the read ahead finish before the next listing audits it. */
	usleep(500000);
	fd = open(self->dir, O_RDONLY | O_DIRECTORY);
	ASSERT_GE(fd, 0);
	ASSERT_GT(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
	close(fd);
	EXPECT_GT(wait_stat_above("pages_wasted", wasted, 2000), wasted);
	EXPECT_EQ(backoffs + 1, wait_stat_above("backoffs", backoffs, 2000));
	/* Backed off: a cold listing reads nothing ahead, and is still complete. */
	ASSERT_EQ(0, fs_cold(&self->fs));
	pre = stat_of("pages_prefetched");
	ASSERT_EQ(0, list_dir(self->dir, &l));
	EXPECT_TRUE(complete_listing(&l, ENTRIES));
	listing_free(&l);
	usleep(200000);
	EXPECT_EQ(pre, stat_of("pages_prefetched"));
}

/* Statahead: 'ls -l' sees the same inodes with it, and its counters move. */
TEST_F_TIMEOUT(dirra, statahead, 300)
{
	long pages, used, dirs, lookups;
	struct listing off, on;
	size_t i;
	bool same = true;

	ASSERT_EQ(0, populate(self->dir, ENTRIES));
	ASSERT_EQ(0, set_param("statahead", "0"));
	ASSERT_EQ(0, fs_cold(&self->fs));
	pages = stat_of("statahead_pages");
	dirs = stat_of("dirs_seen");
	ASSERT_EQ(0, list_stat(self->dir, &off));
	/* Read ahead, but no inodes. */
	EXPECT_EQ(dirs + 1, wait_stat_above("dirs_seen", dirs, 2000));
	usleep(200000);
	EXPECT_EQ(pages, stat_of("statahead_pages"));

	ASSERT_EQ(0, set_param("statahead", "1"));
	ASSERT_EQ(0, fs_cold(&self->fs));
	used = stat_of("statahead_used");
	ASSERT_EQ(0, list_stat(self->dir, &on));
	EXPECT_TRUE(same_listing(&off, &on));
	for (i = 0; i < off.n && i < on.n; i++)
		same &= off.e[i].ino == on.e[i].ino && off.e[i].mode == on.e[i].mode;
	EXPECT_TRUE(same);
	/* ENTRIES inodes fill hundreds of inode-table blocks. */
	EXPECT_GT(wait_stat_above("statahead_pages", pages, 2000), pages + 16);
	/* Audited when the listing ends: 'ls -l' looked the inodes up. */
	EXPECT_GT(wait_stat_above("statahead_used", used, 5000), used);
	listing_free(&on);

	/* A listing without lstat(): dirra looks no name up ahead. */
	ASSERT_EQ(0, fs_cold(&self->fs));
	lookups = stat_of("statahead_lookups");
	ASSERT_GE(lookups, 0);
	dirs = stat_of("dirs_seen");
	ASSERT_EQ(0, list_dir(self->dir, &on));
	EXPECT_TRUE(same_listing(&off, &on));
	EXPECT_EQ(dirs + 1, wait_stat_above("dirs_seen", dirs, 2000));
	usleep(500000);
	EXPECT_EQ(lookups, stat_of("statahead_lookups"));
	listing_free(&off);
	listing_free(&on);
	set_param("statahead", "1");
}

/* Readers list while a writer creates and removes entries: every entry that is
 * not touched shows up exactly once in every listing.
 */
TEST_F_TIMEOUT(dirra, concurrent_readers_writer, 300)
{
	const long n = ENTRIES;
	pid_t readers[3], writer;
	int i, status, failed = 0;

	ASSERT_EQ(0, populate(self->dir, n));
	ASSERT_EQ(0, fs_cold(&self->fs));
	writer = fork();
	ASSERT_GE(writer, 0);
	if (writer == 0) {
		char path[256];
		long k;

		for (k = 0;; k++) {
			snprintf(path, sizeof(path), "%s/new-%ld", self->dir, k);
			if (mknod(path, S_IFREG | 0644, 0))
				_exit(1);
			if (k >= 20) {
				snprintf(path, sizeof(path), "%s/new-%ld", self->dir, k - 20);
				if (unlink(path))
					_exit(1);
			}
		}
	}
	for (i = 0; i < 3; i++) {
		readers[i] = start_reader(self->dir, n, 4);
		ASSERT_GE(readers[i], 0);
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(readers[i], waitpid(readers[i], &status, 0));
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	}
	kill(writer, SIGKILL);
	ASSERT_EQ(writer, waitpid(writer, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("the writer failed");
	EXPECT_EQ(0, failed);
}

/* Unmounting while dirra reads ahead works: the mount goes at once (lazily,
 * while a listing runs; or right after a listing was abandoned), the file
 * system stays intact, and mounts again.
 */
TEST_F_TIMEOUT(dirra, unmount_during_prefetch, 300)
{
	long pre = stat_of("pages_prefetched");
	int round, status, ready[2];
	struct listing l;
	char buf[4096];
	pid_t pid;
	int fd;

	ASSERT_EQ(0, populate(self->dir, ENTRIES));
	for (round = 0; round < 4; round++) {
		ASSERT_EQ(0, fs_cold(&self->fs));
		ASSERT_EQ(0, pipe(ready));
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			int ok;

			fd = open(self->dir, O_RDONLY | O_DIRECTORY);
			if (fd < 0 || write(ready[1], "", 1) != 1)
				_exit(1);
			ok = !list_fd(fd, &l) && complete_listing(&l, ENTRIES);
			_exit(ok ? 0 : 1);
		}
		/* Unmount once the listing has its directory open. */
		ASSERT_EQ(1, read(ready[0], buf, 1));
		close(ready[0]);
		close(ready[1]);
		usleep(20000 * round);
		ASSERT_EQ(0, umount2(self->fs.mnt, MNT_DETACH));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		ASSERT_EQ(0, fs_mount(&self->fs));
	}
	EXPECT_GT(wait_stat_above("pages_prefetched", pre, 5000), pre);

	/* A listing abandoned after one call, then a plain unmount. */
	ASSERT_EQ(0, fs_cold(&self->fs));
	fd = open(self->dir, O_RDONLY | O_DIRECTORY);
	ASSERT_GE(fd, 0);
	ASSERT_GT(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
	close(fd);
	ASSERT_EQ(0, umount(self->fs.mnt));
	ASSERT_EQ(0, fs_mount(&self->fs));
	ASSERT_EQ(0, list_dir(self->dir, &l));
	EXPECT_TRUE(complete_listing(&l, ENTRIES));
	listing_free(&l);
}

/* Unloading and loading dirra while listings run changes nothing they see. */
TEST_F_TIMEOUT(dirra, unload_during_listing, 300)
{
	const long n = ENTRIES;
	int i, status, failed = 0;
	pid_t readers[2];

	ASSERT_EQ(0, populate(self->dir, n));
	ASSERT_EQ(0, fs_cold(&self->fs));
	for (i = 0; i < 2; i++) {
		readers[i] = start_reader(self->dir, n, 6);
		ASSERT_GE(readers[i], 0);
	}
	for (i = 0; i < 6; i++) {
		usleep(100000 * (i + 1));
		EXPECT_EQ(0, module_unload());
		usleep(50000);
		EXPECT_EQ(0, module_load(""));
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(readers[i], waitpid(readers[i], &status, 0));
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	}
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, access(PARAMS "enable", W_OK));
}

/*
 * 200,000 entries. Both file systems are filled through the ext4 driver
 * without a journal (ext2 with dir_index, which ext2 reads as a plain
 * directory): ext2 adds an entry by scanning the whole directory, which makes
 * filling it take hours under emulation.
 */
/*
 * A large directory, filled quickly with hard links, listed cold with dirra
 * off and on: @n entries, identical listings.
 */
static void check_large(struct __test_metadata *_metadata, struct fs *fs, const char *dir,
			const char *type, long n)
{
	struct listing off, on;
	struct timespec t0, t1;
	long dirs = stat_of("dirs_seen");

	ASSERT_EQ(0, fs_remount_as(fs, "ext4"));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, populate_links(dir, n));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("made %ld entries in %ld s", n, (long)(t1.tv_sec - t0.tv_sec));
	ASSERT_EQ(0, fs_remount_as(fs, type));
	ASSERT_EQ(0, set_param("enable", "0"));
	ASSERT_EQ(0, fs_cold(fs));
	ASSERT_EQ(0, list_dir(dir, &off));
	EXPECT_EQ(stat_of("dirs_seen"), dirs);
	ASSERT_EQ(0, set_param("enable", "1"));
	ASSERT_EQ(0, fs_cold(fs));
	ASSERT_EQ(0, list_dir(dir, &on));
	EXPECT_EQ((size_t)n + 2, off.n);
	EXPECT_TRUE(complete_listing(&off, n));
	EXPECT_TRUE(same_listing(&off, &on));
	EXPECT_EQ(dirs + 1, wait_stat_above("dirs_seen", dirs, 2000));
	listing_free(&off);
	listing_free(&on);
}

/*
 * 200,000 entries in 4 KiB blocks (make soak): a two-level htree on ext4,
 * many pages of directory on ext2.
 */
FIXTURE(big) {
	struct fs fs;
	char dir[128];
};

FIXTURE_VARIANT(big) {
	const char *type, *features;
};

FIXTURE_VARIANT_ADD(big, ext2) {
	.type = "ext2",
	.features = "dir_index",
};

FIXTURE_VARIANT_ADD(big, ext4) {
	.type = "ext4",
	.features = "^has_journal",
};

FIXTURE_SETUP(big)
{
	ASSERT_EQ(0, access(PARAMS "enable", W_OK)) TH_LOG("dirra is not loaded");
	ASSERT_EQ(0, fs_make_ex(&self->fs, variant->type, "4096", 8192, 200000, variant->features));
	snprintf(self->dir, sizeof(self->dir), "%s/d", self->fs.mnt);
}

FIXTURE_TEARDOWN(big)
{
	set_param("enable", "1");
	EXPECT_EQ(0, fs_destroy(&self->fs)) TH_LOG("e2fsck -fn found problems");
}

TEST_F_TIMEOUT(big, identical_200000, 1200)
{
	check_large(_metadata, &self->fs, self->dir, variant->type, 200000);
}

/*
 * The same shapes at a tenth of the cost (make check): in 1 KiB blocks,
 * 20,000 entries outgrow the 124 leaves an ext4 htree root can index (a
 * two-level tree), and on ext2 four blocks share each page of the
 * directory.
 */
FIXTURE(deep) {
	struct fs fs;
	char dir[128];
};

FIXTURE_VARIANT(deep) {
	const char *type, *features;
};

FIXTURE_VARIANT_ADD(deep, ext2) {
	.type = "ext2",
	.features = "dir_index",
};

FIXTURE_VARIANT_ADD(deep, ext4) {
	.type = "ext4",
	.features = "^has_journal",
};

FIXTURE_SETUP(deep)
{
	ASSERT_EQ(0, access(PARAMS "enable", W_OK)) TH_LOG("dirra is not loaded");
	ASSERT_EQ(0, fs_make_ex(&self->fs, variant->type, "1024", 4096, 20000 * 4,
				variant->features));
	snprintf(self->dir, sizeof(self->dir), "%s/d", self->fs.mnt);
}

FIXTURE_TEARDOWN(deep)
{
	set_param("enable", "1");
	EXPECT_EQ(0, fs_destroy(&self->fs)) TH_LOG("e2fsck -fn found problems");
}

TEST_F_TIMEOUT(deep, identical_20000, 600)
{
	check_large(_metadata, &self->fs, self->dir, variant->type, 20000);
}

/* Out-of-range and malformed values are refused and change nothing. */
TEST(bad_parameters)
{
	static const struct {
		const char *name, *value;
	} bad[] = {
		{ "window", "0" }, { "window", "65537" }, { "window", "abc" },
		{ "window", "-1" }, { "inflight", "0" }, { "inflight", "1025" },
		{ "min_size", "4095" }, { "min_size", "4G" }, { "enable", "maybe" },
		{ "ext4", "2x" }, { "statahead", "2" }, { "gap", "64" }, { "gap", "-1" },
	};
	long window = read_num(PARAMS "window");
	size_t i;

	ASSERT_GT(window, 0);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, set_param(bad[i].name, bad[i].value))
			TH_LOG("bad value %zu: %s=%s", i, bad[i].name ?: "", bad[i].value ?: "");
	EXPECT_EQ(window, read_num(PARAMS "window"));
	EXPECT_EQ(0, set_param("window", "128"));
	EXPECT_EQ(128, read_num(PARAMS "window"));
	EXPECT_EQ(0, set_param("window", "2048"));

	/* At load time, a bad value fails the load. */
	ASSERT_EQ(0, module_unload());
	EXPECT_EQ(-EINVAL, module_load("window=0"));
	EXPECT_EQ(-EINVAL, module_load("inflight=100000"));
	EXPECT_EQ(-EINVAL, module_load("gap=100"));
	EXPECT_EQ(-ENOENT, access(PARAMS "window", F_OK) ? -errno : 0);
	ASSERT_EQ(0, module_load("window=512"));
	EXPECT_EQ(512, read_num(PARAMS "window"));
	ASSERT_EQ(0, set_param("window", "2048"));
}

/* Entries of the faults fixture's directory: several blocks, quick to make. */
#define FAULT_ENTRIES 600

FIXTURE(faults) {
	struct fs fs;
	char dir[128];
	char min_size[32];
	char *image;
	size_t image_len;
	int nth;
};

FIXTURE_SETUP(faults)
{
	int fd;

	self->nth = -1;
	ASSERT_EQ(0, access(PARAMS "enable", W_OK)) TH_LOG("dirra is not loaded");
	fd = open(PARAMS "min_size", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, read(fd, self->min_size, sizeof(self->min_size) - 1));
	close(fd);
	ASSERT_EQ(0, fs_make(&self->fs, "ext2", 2000));
	snprintf(self->dir, sizeof(self->dir), "%s/d", self->fs.mnt);
	ASSERT_EQ(0, populate(self->dir, FAULT_ENTRIES));
	ASSERT_EQ(0, module_image(&self->image, &self->image_len));
	self->nth = fail_nth_open();
	if (self->nth == -ENOENT)
		SKIP(return, "no fault injection (fail-nth, failslab) in this kernel");
	ASSERT_LE(0, self->nth);
	/* A failed vmalloc (the module's KASAN shadow) reports itself. */
	fail_nth_announce("dirra_test", true);
}

FIXTURE_TEARDOWN(faults)
{
	if (self->nth >= 0) {
		fail_nth_announce("dirra_test", false);
		close(self->nth);
	}
	free(self->image);
	if (access(PARAMS "enable", F_OK))
		EXPECT_EQ(0, module_load(""));
	set_param("min_size", self->min_size);
	set_param("enable", "1");
	EXPECT_EQ(0, fs_destroy(&self->fs)) TH_LOG("e2fsck -fn found problems");
}

/* The end of step n of a sweep with result ret: true when the sweep is over. */
static bool fault_step_done(struct __test_metadata *_metadata, int nth, unsigned int n,
			    int ret)
{
	int injected = fail_nth_disarm(nth);

	EXPECT_LE(0, injected);
	if (ret) {
		EXPECT_EQ(1, injected) TH_LOG("point %u: %d without an injected failure", n, ret);
		EXPECT_EQ(-ENOMEM, ret) TH_LOG("point %u", n);
	}
	return injected != 1;
}

/*
 * The load sweep loads the image from memory: a failure armed while a file
 * of the guest's root filesystem (9p) is read or closed can fail the 9p
 * client's TCLUNK, which the client counts as done while its server still
 * holds the fid; the client hands the number out again, the server refuses
 * it, and every later walk of that filesystem fails with EINVAL (no more
 * loads, no more programs to run).
 */
TEST_F_TIMEOUT(faults, load, 300)
{
	unsigned int n;
	int ret;

	ASSERT_EQ(0, module_unload());
	for (n = 1; n < 5000; n++) {
		ASSERT_EQ(0, fail_nth_arm(self->nth, n));
		ret = module_load_image(self->image, self->image_len, "");
		if (fault_step_done(_metadata, self->nth, n, ret))
			break;
		if (!ret) {
			ASSERT_EQ(0, module_unload());
		} else {
			/* A failed load leaves no module behind. */
			EXPECT_NE(0, access("/sys/module/dirra", F_OK)) TH_LOG("point %u", n);
		}
	}
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0, access(PARAMS "enable", W_OK));
	TH_LOG("loading dirra reached %u failure points", n - 1);
}

TEST_F_TIMEOUT(faults, listing, 300)
{
	struct listing want, l;
	unsigned int n;
	int ret;

	/* Every directory of a block or more is read ahead. */
	ASSERT_EQ(0, set_param("min_size", "4096"));
	ASSERT_EQ(0, set_param("enable", "0"));
	ASSERT_EQ(0, fs_cold(&self->fs));
	ASSERT_EQ(0, list_dir(self->dir, &want));
	EXPECT_TRUE(complete_listing(&want, FAULT_ENTRIES));
	ASSERT_EQ(0, set_param("enable", "1"));
	for (n = 1; n < 5000; n++) {
		ASSERT_EQ(0, fs_cold(&self->fs));
		ASSERT_EQ(0, fail_nth_arm(self->nth, n));
		ret = list_dir(self->dir, &l);
		if (fault_step_done(_metadata, self->nth, n, ret)) {
			EXPECT_TRUE(same_listing(&want, &l));
			listing_free(&l);
			break;
		}
		if (!ret)
			EXPECT_TRUE(same_listing(&want, &l)) TH_LOG("point %u", n);
		listing_free(&l);
	}
	ASSERT_EQ(0, ret);
	TH_LOG("a listing read ahead reached %u failure points", n - 1);
	listing_free(&want);
}

TEST_HARNESS_MAIN
