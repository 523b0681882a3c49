// SPDX-License-Identifier: GPL-2.0
/*
 * unionfs against overlayfs: each test builds layers on tmpfs, mounts the
 * same layers with both filesystems in the same boot, and compares what user
 * space sees (names, types, modes, sizes, contents, link targets) besides
 * checking the expected result itself. Bad mount options must fail alike.
 * After each test both unions unmount cleanly and the kernel is not tainted.
 *
 * Needs root, overlay.ko and unionfs.ko loaded.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/mount.h>

#include "../kselftest_harness.h"
#include "unionfs_util.h"

/* An access time long past, older than any change time. */
#define OLD_ATIME 1000000

/* Layer building, relative to a layer directory. */

static int put_file(const char *dir, const char *name, const char *data, mode_t mode)
{
	char p[PATH_LEN];
	int fd = open(pathf(p, "%s/%s", dir, name), O_CREAT | O_TRUNC | O_WRONLY, mode);
	ssize_t len = strlen(data);

	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != len) {
		close(fd);
		return -EIO;
	}
	fchmod(fd, mode);
	close(fd);
	return 0;
}

static int put_dir(const char *dir, const char *name)
{
	char p[PATH_LEN];

	return mkdir(pathf(p, "%s/%s", dir, name), 0755) ? -errno : 0;
}

static int put_whiteout(const char *dir, const char *name)
{
	char p[PATH_LEN];

	return mknod(pathf(p, "%s/%s", dir, name), S_IFCHR | 0, makedev(0, 0)) ? -errno : 0;
}

static int put_xattr(const char *dir, const char *name, const char *attr, const char *val)
{
	char p[PATH_LEN];

	return setxattr(pathf(p, "%s/%s", dir, name), attr, val, strlen(val), 0) ? -errno : 0;
}

static int put_symlink(const char *dir, const char *name, const char *target)
{
	char p[PATH_LEN];

	return symlink(target, pathf(p, "%s/%s", dir, name)) ? -errno : 0;
}

/* A text description of a tree: one sorted line per object. */

struct text {
	char *buf;
	size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL,
			      t->buf ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (t->buf && t->len + n < t->cap)
			break;
		t->cap = (t->cap + n + 1) * 2;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf)
			abort();
	}
	t->len += n;
}

static uint64_t content_hash(const char *path, off_t *size)
{
	uint64_t h = 1469598103934665603ULL;
	unsigned char buf[4096];
	ssize_t n, i;
	int fd = open(path, O_RDONLY);

	*size = 0;
	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
		*size += n;
	}
	close(fd);
	return n < 0 ? 0 : h;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int no_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
}

/* Whether describe() lists extended attributes too. */
static bool describe_xattrs;

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds " name=value" for each extended attribute of path, sorted by name. */
static void add_xattrs(const char *path, struct text *t)
{
	char list[4096], value[256], *names[64], *n;
	ssize_t len = llistxattr(path, list, sizeof(list)), vlen;
	int count = 0, i;

	if (len < 0) {
		text_add(t, " xattrs-error=%d", errno);
		return;
	}
	for (n = list; n < list + len && count < 64; n += strlen(n) + 1)
		names[count++] = n;
	qsort(names, count, sizeof(names[0]), by_string);
	for (i = 0; i < count; i++) {
		vlen = lgetxattr(path, names[i], value, sizeof(value) - 1);
		value[vlen < 0 ? 0 : vlen] = 0;
		text_add(t, " %s=%s", names[i], vlen < 0 ? "?" : value);
	}
}

/* Describes the tree at root/rel into t; returns 0 or -errno. */
static int describe(const char *root, const char *rel, struct text *t)
{
	struct dirent **names;
	char p[PATH_LEN], sub[PATH_LEN];
	int n, i, err = 0;

	n = scandir(pathf(p, "%s%s", root, rel), &names, no_dots, by_name);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		struct stat st;
		char target[PATH_LEN];
		off_t size;
		uint64_t h;
		ssize_t len;

		pathf(sub, "%s/%s", rel, names[i]->d_name);
		if (lstat(pathf(p, "%s%s", root, sub), &st)) {
			text_add(t, "%s lstat-error %d\n", sub, errno);
			continue;
		}
		text_add(t, "%s mode=%o uid=%u gid=%u", sub, st.st_mode, st.st_uid, st.st_gid);
		if (S_ISREG(st.st_mode)) {
			h = content_hash(p, &size);
			text_add(t, " size=%lld read=%lld hash=%llx", (long long)st.st_size,
				 (long long)size, (unsigned long long)h);
		} else if (S_ISLNK(st.st_mode)) {
			len = readlink(p, target, sizeof(target) - 1);
			target[len < 0 ? 0 : len] = 0;
			text_add(t, " -> %s", target);
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			text_add(t, " rdev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
		}
		if (describe_xattrs)
			add_xattrs(p, t);
		/* The type getdents() reports must match stat(). */
		if (names[i]->d_type != DT_UNKNOWN && names[i]->d_type != IFTODT(st.st_mode))
			text_add(t, " d_type=%u", names[i]->d_type);
		text_add(t, "\n");
		if (S_ISDIR(st.st_mode) && !err)
			err = describe(root, sub, t);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

struct unions {
	char base[64];
	char l[4][PATH_LEN];	/* lower layers, l[0] on top */
	char u[PATH_LEN];	/* the unionfs mount */
	char o[PATH_LEN];	/* the overlayfs mount */
	bool u_mounted, o_mounted;
	int extra_tmpfs;	/* layers on a tmpfs of their own */
	char other[PATH_LEN];	/* another tmpfs, if mounted */
	char robind[PATH_LEN];	/* a read-only bind mount, if mounted */
	long tainted;
};

FIXTURE(union_fs) {
	struct unions t;
};

FIXTURE_SETUP(union_fs)
{
	int i;

	self->t.tainted = read_tainted();
	ASSERT_EQ(0, getuid()) TH_LOG("needs root");
	snprintf(self->t.base, sizeof(self->t.base), "/tmp/unionfs_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->t.base));
	ASSERT_EQ(0, sys_mount("tmpfs", self->t.base, "tmpfs", 0, NULL));
	for (i = 0; i < 4; i++) {
		pathf(self->t.l[i], "%s/l%d", self->t.base, i + 1);
		ASSERT_EQ(0, mkdir(self->t.l[i], 0755));
	}
	pathf(self->t.u, "%s/union", self->t.base);
	pathf(self->t.o, "%s/overlay", self->t.base);
	ASSERT_EQ(0, mkdir(self->t.u, 0755));
	ASSERT_EQ(0, mkdir(self->t.o, 0755));
}

FIXTURE_TEARDOWN(union_fs)
{
	int i;

	if (self->t.u_mounted)
		EXPECT_EQ(0, sys_umount(self->t.u));
	if (self->t.o_mounted)
		EXPECT_EQ(0, sys_umount(self->t.o));
	for (i = 0; i < self->t.extra_tmpfs; i++)
		EXPECT_EQ(0, sys_umount(self->t.l[i]));
	if (self->t.other[0])
		EXPECT_EQ(0, sys_umount(self->t.other));
	if (self->t.robind[0])
		EXPECT_EQ(0, sys_umount(self->t.robind));
	EXPECT_EQ(0, sys_umount(self->t.base));
	rmdir(self->t.base);
	EXPECT_EQ(self->t.tainted, read_tainted());
}

/* lowerdir=l1:...:ln */
static char *lower_opts(struct unions *self, int layers, char *opts)
{
	int i, n = snprintf(opts, PATH_LEN, "lowerdir=");

	for (i = 0; i < layers; i++)
		n += snprintf(opts + n, PATH_LEN - n, "%s%s", i ? ":" : "", self->l[i]);
	return opts;
}

static int mount_both(struct unions *self, int layers)
{
	char opts[PATH_LEN];
	int err;

	lower_opts(self, layers, opts);
	err = sys_mount("unionfs", self->u, "unionfs", 0, opts);
	if (err)
		return err;
	self->u_mounted = true;
	err = sys_mount("overlay", self->o, "overlay", 0, opts);
	if (err)
		return err;
	self->o_mounted = true;
	return 0;
}

/* Unmounts both unions: 0 or the first -errno; a union left mounted stays marked so. */
static int unmount_both(struct unions *self)
{
	int eu = sys_umount(self->u), eo = sys_umount(self->o);

	self->u_mounted = self->u_mounted && eu;
	self->o_mounted = self->o_mounted && eo;
	return eu ? eu : eo;
}

/* The two unions show the same tree; returns unionfs's description. */
static char *same_tree(struct __test_metadata *_metadata, struct unions *self)
{
	struct text tu = {}, to = {};

	EXPECT_EQ(0, describe(self->u, "", &tu));
	EXPECT_EQ(0, describe(self->o, "", &to));
	text_add(&tu, "");
	text_add(&to, "");
	EXPECT_STREQ(to.buf, tu.buf);
	free(to.buf);
	return tu.buf;
}

static bool has_line(const char *tree, const char *prefix)
{
	const char *p = tree;
	size_t len = strlen(prefix);

	while (p && *p) {
		if (!strncmp(p, prefix, len) && (p[len] == ' ' || p[len] == '\n'))
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* The topmost layer's object wins; directories merge; links and modes show through. */
TEST_F(union_fs, two_lowers_merge)
{
	char p[PATH_LEN], buf[64], *tree;

	ASSERT_EQ(0, put_file(self->t.l[0], "a", "top a\n", 0640));
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_file(self->t.l[0], "d/x", "x", 0600));
	ASSERT_EQ(0, put_file(self->t.l[1], "a", "bottom a, longer\n", 0644));
	ASSERT_EQ(0, put_file(self->t.l[1], "b", "b", 0755));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, put_file(self->t.l[1], "d/y", "y", 0644));
	ASSERT_EQ(0, put_symlink(self->t.l[1], "link", "b"));
	ASSERT_EQ(0, mkfifo(pathf(p, "%s/fifo", self->t.l[1]), 0600));
	ASSERT_EQ(0, mount_both(&self->t, 2));

	tree = same_tree(_metadata, &self->t);
	EXPECT_TRUE(has_line(tree, "/a mode=100640"));
	EXPECT_TRUE(has_line(tree, "/b mode=100755"));
	EXPECT_TRUE(has_line(tree, "/d/x mode=100600"));
	EXPECT_TRUE(has_line(tree, "/d/y mode=100644"));
	EXPECT_TRUE(has_line(tree, "/link mode=120777"));
	EXPECT_TRUE(has_line(tree, "/fifo mode=10600"));
	free(tree);
	ASSERT_EQ(0, read_file(pathf(p, "%s/a", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("top a\n", buf);
	ASSERT_EQ(0, read_file(pathf(p, "%s/link", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("b", buf);
}

/* Three layers; a directory above hides a file below and the reverse. */
TEST_F(union_fs, three_lowers)
{
	char *tree;

	ASSERT_EQ(0, put_file(self->t.l[0], "one", "1", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "dir_over_file"));
	ASSERT_EQ(0, put_file(self->t.l[0], "file_over_dir", "f", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_file(self->t.l[0], "d/from1", "1", 0644));
	ASSERT_EQ(0, put_file(self->t.l[1], "two", "22", 0644));
	ASSERT_EQ(0, put_file(self->t.l[1], "dir_over_file", "hidden", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, put_file(self->t.l[1], "d/from2", "2", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[2], "file_over_dir"));
	ASSERT_EQ(0, put_file(self->t.l[2], "file_over_dir/hidden", "h", 0644));
	ASSERT_EQ(0, put_file(self->t.l[2], "three", "333", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[2], "d"));
	ASSERT_EQ(0, put_file(self->t.l[2], "d/from3", "3", 0644));
	ASSERT_EQ(0, put_file(self->t.l[2], "d/from1", "not this one", 0644));
	ASSERT_EQ(0, mount_both(&self->t, 3));

	tree = same_tree(_metadata, &self->t);
	EXPECT_TRUE(has_line(tree, "/one mode=100644"));
	EXPECT_TRUE(has_line(tree, "/two mode=100644"));
	EXPECT_TRUE(has_line(tree, "/three mode=100644"));
	EXPECT_TRUE(has_line(tree, "/dir_over_file mode=40755"));
	EXPECT_TRUE(has_line(tree, "/file_over_dir mode=100644"));
	EXPECT_FALSE(has_line(tree, "/file_over_dir/hidden"));
	EXPECT_TRUE(has_line(tree, "/d/from1 mode=100644"));
	EXPECT_TRUE(has_line(tree, "/d/from2 mode=100644"));
	EXPECT_TRUE(has_line(tree, "/d/from3 mode=100644"));
	EXPECT_NE(NULL, strstr(tree, "/d/from1 mode=100644 uid=0 gid=0 size=1 "));
	free(tree);
}

/* A 0/0 character device hides the name below, in readdir and lookup. */
TEST_F(union_fs, whiteout_device)
{
	char p[PATH_LEN], *tree;
	struct stat st;

	ASSERT_EQ(0, put_whiteout(self->t.l[0], "gone"));
	ASSERT_EQ(0, put_file(self->t.l[1], "gone", "g", 0644));
	ASSERT_EQ(0, put_whiteout(self->t.l[0], "nothing_below"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "gonedir"));
	ASSERT_EQ(0, put_file(self->t.l[1], "gonedir/f", "f", 0644));
	ASSERT_EQ(0, put_whiteout(self->t.l[0], "gonedir"));
	ASSERT_EQ(0, put_file(self->t.l[1], "kept", "k", 0644));
	/* Another character device is an ordinary object. */
	ASSERT_EQ(0, mknod(pathf(p, "%s/null", self->t.l[0]), S_IFCHR | 0666, makedev(1, 3)));
	ASSERT_EQ(0, chmod(p, 0666));
	ASSERT_EQ(0, mount_both(&self->t, 2));

	tree = same_tree(_metadata, &self->t);
	EXPECT_FALSE(has_line(tree, "/gone"));
	EXPECT_FALSE(has_line(tree, "/nothing_below"));
	EXPECT_FALSE(has_line(tree, "/gonedir"));
	EXPECT_TRUE(has_line(tree, "/kept mode=100644"));
	EXPECT_NE(NULL, strstr(tree, "/null mode=20666 uid=0 gid=0 rdev=1:3\n"));
	free(tree);
	EXPECT_EQ(-1, stat(pathf(p, "%s/gone", self->t.u), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(pathf(p, "%s/gonedir/f", self->t.u), &st));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * An empty file with trusted.overlay.whiteout is a whiteout; readdir honours
 * it in directories marked trusted.overlay.opaque=x, as overlayfs does.
 */
TEST_F(union_fs, whiteout_xattr)
{
	char p[PATH_LEN], *tree;
	struct stat st;

	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_xattr(self->t.l[0], "d", "trusted.overlay.opaque", "x"));
	ASSERT_EQ(0, put_file(self->t.l[0], "d/gone", "", 0644));
	ASSERT_EQ(0, put_xattr(self->t.l[0], "d/gone", "trusted.overlay.whiteout", ""));
	/* Not empty: not a whiteout. */
	ASSERT_EQ(0, put_file(self->t.l[0], "d/full", "data", 0644));
	ASSERT_EQ(0, put_xattr(self->t.l[0], "d/full", "trusted.overlay.whiteout", ""));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, put_file(self->t.l[1], "d/gone", "g", 0644));
	ASSERT_EQ(0, put_file(self->t.l[1], "d/full", "lower", 0644));
	ASSERT_EQ(0, put_file(self->t.l[1], "d/kept", "k", 0644));
	/*
	 * Lookup honours them anywhere, whatever the attribute's value; listings
	 * of unmarked directories show the name (whose lookup fails) on both.
	 */
	ASSERT_EQ(0, put_file(self->t.l[0], "rootgone", "", 0644));
	ASSERT_EQ(0, put_xattr(self->t.l[0], "rootgone", "trusted.overlay.whiteout", "y"));
	ASSERT_EQ(0, put_file(self->t.l[1], "rootgone", "r", 0644));
	ASSERT_EQ(0, mount_both(&self->t, 2));
	EXPECT_EQ(-1, stat(pathf(p, "%s/rootgone", self->t.o), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(pathf(p, "%s/rootgone", self->t.u), &st));
	EXPECT_EQ(ENOENT, errno);

	tree = same_tree(_metadata, &self->t);
	EXPECT_FALSE(has_line(tree, "/d/gone"));
	EXPECT_TRUE(has_line(tree, "/d/full mode=100644"));
	EXPECT_NE(NULL, strstr(tree, "/d/full mode=100644 uid=0 gid=0 size=4 "));
	EXPECT_TRUE(has_line(tree, "/d/kept mode=100644"));
	free(tree);
	EXPECT_EQ(-1, stat(pathf(p, "%s/d/gone", self->t.u), &st));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * Whiteouts in a directory that only one layer holds, or an opaque one, hide
 * nothing; unionfs leaves them out of listings all the same, where overlayfs
 * lists them (its lookup then fails, as unionfs's does).
 */
TEST_F(union_fs, whiteout_in_unmerged_dir)
{
	struct text listing = {};
	char p[PATH_LEN], *tree;
	struct stat st;

	ASSERT_EQ(0, put_dir(self->t.l[0], "only"));
	ASSERT_EQ(0, put_whiteout(self->t.l[0], "only/wh"));
	ASSERT_EQ(0, put_file(self->t.l[0], "only/f", "f", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "opaque"));
	ASSERT_EQ(0, put_xattr(self->t.l[0], "opaque", "trusted.overlay.opaque", "y"));
	ASSERT_EQ(0, put_whiteout(self->t.l[0], "opaque/wh"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "opaque"));
	ASSERT_EQ(0, put_file(self->t.l[1], "opaque/wh", "hidden", 0644));
	ASSERT_EQ(0, put_file(self->t.l[1], "x", "x", 0644));
	ASSERT_EQ(0, mount_both(&self->t, 2));

	ASSERT_EQ(0, describe(self->t.u, "", &listing));
	tree = listing.buf;
	EXPECT_TRUE(has_line(tree, "/only/f mode=100644"));
	EXPECT_FALSE(has_line(tree, "/only/wh"));
	EXPECT_FALSE(has_line(tree, "/opaque/wh"));
	EXPECT_EQ(NULL, strstr(tree, "error")) TH_LOG("%s", tree);
	free(tree);
	EXPECT_EQ(-1, stat(pathf(p, "%s/only/wh", self->t.u), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(pathf(p, "%s/only/wh", self->t.o), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(pathf(p, "%s/opaque/wh", self->t.u), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(pathf(p, "%s/opaque/wh", self->t.o), &st));
	EXPECT_EQ(ENOENT, errno);
}

/* trusted.overlay.opaque=y hides everything below the directory. */
TEST_F(union_fs, opaque_dir)
{
	char *tree;

	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_xattr(self->t.l[0], "d", "trusted.overlay.opaque", "y"));
	ASSERT_EQ(0, put_file(self->t.l[0], "d/top", "t", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, put_file(self->t.l[1], "d/middle", "m", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[2], "d"));
	ASSERT_EQ(0, put_file(self->t.l[2], "d/bottom", "b", 0644));
	/* An opaque directory in the middle: the top one merges down to it. */
	ASSERT_EQ(0, put_dir(self->t.l[0], "e"));
	ASSERT_EQ(0, put_file(self->t.l[0], "e/top", "t", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[1], "e"));
	ASSERT_EQ(0, put_xattr(self->t.l[1], "e", "trusted.overlay.opaque", "y"));
	ASSERT_EQ(0, put_file(self->t.l[1], "e/middle", "m", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[2], "e"));
	ASSERT_EQ(0, put_file(self->t.l[2], "e/bottom", "b", 0644));
	ASSERT_EQ(0, mount_both(&self->t, 3));

	tree = same_tree(_metadata, &self->t);
	EXPECT_TRUE(has_line(tree, "/d/top mode=100644"));
	EXPECT_FALSE(has_line(tree, "/d/middle"));
	EXPECT_FALSE(has_line(tree, "/d/bottom"));
	EXPECT_TRUE(has_line(tree, "/e/top mode=100644"));
	EXPECT_TRUE(has_line(tree, "/e/middle mode=100644"));
	EXPECT_FALSE(has_line(tree, "/e/bottom"));
	free(tree);
}

/* A whiteout in a middle layer hides what is below it, not what is above. */
TEST_F(union_fs, middle_whiteout)
{
	char *tree;

	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[2], "d"));
	ASSERT_EQ(0, put_whiteout(self->t.l[1], "d/f"));
	ASSERT_EQ(0, put_file(self->t.l[2], "d/f", "f", 0644));
	ASSERT_EQ(0, put_whiteout(self->t.l[1], "d/g"));
	ASSERT_EQ(0, put_file(self->t.l[0], "d/g", "above", 0644));
	ASSERT_EQ(0, put_file(self->t.l[2], "d/g", "below", 0644));
	ASSERT_EQ(0, put_whiteout(self->t.l[1], "sub"));
	ASSERT_EQ(0, put_dir(self->t.l[2], "sub"));
	ASSERT_EQ(0, put_dir(self->t.l[0], "sub2"));
	ASSERT_EQ(0, put_file(self->t.l[0], "sub2/top", "t", 0644));
	ASSERT_EQ(0, put_whiteout(self->t.l[1], "sub2"));
	ASSERT_EQ(0, put_dir(self->t.l[2], "sub2"));
	ASSERT_EQ(0, put_file(self->t.l[2], "sub2/bottom", "b", 0644));
	ASSERT_EQ(0, mount_both(&self->t, 3));

	tree = same_tree(_metadata, &self->t);
	EXPECT_FALSE(has_line(tree, "/d/f"));
	EXPECT_NE(NULL, strstr(tree, "/d/g mode=100644 uid=0 gid=0 size=5 "));
	EXPECT_FALSE(has_line(tree, "/sub"));
	EXPECT_TRUE(has_line(tree, "/sub2/top"));
	EXPECT_FALSE(has_line(tree, "/sub2/bottom"));
	free(tree);
}

/* Reads every name of an open directory with getdents64 calls of bufsize bytes. */
static int list_dir(int fd, size_t bufsize, char names[][32], long *offs, int max)
{
	char buf[4096];
	int n = 0;

	for (;;) {
		long len = syscall(__NR_getdents64, fd, buf, bufsize), pos = 0;

		if (len < 0)
			return -errno;
		if (len == 0)
			return n;
		while (pos < len && n < max) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + pos);

			snprintf(names[n], 32, "%s", d->name);
			offs[n++] = d->off;
			pos += d->reclen;
		}
		if (n == max)
			return n;
	}
}

/*
 * Merged readdir: every name once, . and .. once, and offsets that stay valid
 * across getdents calls and for seekdir on the same open directory.
 */
TEST_F(union_fs, readdir_offsets)
{
	static char names[512][32], again[512][32];
	static long offs[512], offs2[512];
	char p[PATH_LEN], name[32];
	int i, j, n, m, fd, dots, dotdots;
	const char *mnt[2] = { self->t.u, self->t.o };
	int counts[2];

	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	for (i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "d/f%03d", i);
		if (i < 100)
			ASSERT_EQ(0, put_file(self->t.l[0], name, "top", 0644));
		if (i >= 50)
			ASSERT_EQ(0, put_file(self->t.l[1], name, "bottom", 0644));
	}
	ASSERT_EQ(0, put_whiteout(self->t.l[0], "d/f149"));
	ASSERT_EQ(0, mount_both(&self->t, 2));

	for (j = 0; j < 2; j++) {
		fd = open(pathf(p, "%s/d", mnt[j]), O_RDONLY | O_DIRECTORY);
		ASSERT_LE(0, fd);
		/* Small buffers: many getdents calls. */
		n = list_dir(fd, 200, names, offs, 512);
		ASSERT_LT(0, n);
		counts[j] = n;
		dots = 0;
		dotdots = 0;
		for (i = 0; i < n; i++) {
			int k;

			dots += !strcmp(names[i], ".");
			dotdots += !strcmp(names[i], "..");
			for (k = 0; k < i; k++)
				EXPECT_STRNE(names[k], names[i]);
		}
		EXPECT_EQ(1, dots);
		EXPECT_EQ(1, dotdots);
		/* 149 files and the dots: f149 is whited out. */
		EXPECT_EQ(151, n);

		/* Seek back to any returned offset and read on: the same entries follow. */
		for (i = 0; i < n; i += 37) {
			ASSERT_EQ(offs[i], lseek(fd, offs[i], SEEK_SET));
			m = list_dir(fd, 512, again, offs2, 512);
			ASSERT_EQ(n - i - 1, m);
			if (m > 0) {
				EXPECT_STREQ(names[i + 1], again[0]);
				EXPECT_STREQ(names[n - 1], again[m - 1]);
			}
		}
		/* Rewind: everything again. */
		ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
		EXPECT_EQ(n, list_dir(fd, 4096, again, offs2, 512));
		close(fd);
	}
	EXPECT_EQ(counts[1], counts[0]);
}

/* telldir()/seekdir() through the C library, on the same open directory. */
TEST_F(union_fs, telldir_seekdir)
{
	char p[PATH_LEN], name[32], first[256] = "";
	struct dirent *d;
	long where;
	DIR *dir;
	int i;

	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "d/%s%02d", i % 2 ? "odd" : "even", i);
		ASSERT_EQ(0, put_file(self->t.l[i % 2], name, "x", 0644));
	}
	ASSERT_EQ(0, mount_both(&self->t, 2));

	dir = opendir(pathf(p, "%s/d", self->t.u));
	ASSERT_NE(NULL, dir);
	for (i = 0; i < 17; i++)
		ASSERT_NE(NULL, readdir(dir));
	where = telldir(dir);
	d = readdir(dir);
	ASSERT_NE(NULL, d);
	snprintf(first, sizeof(first), "%s", d->d_name);
	for (i = 0; readdir(dir); i++)
		;
	EXPECT_EQ(42 - 18, i);
	seekdir(dir, where);
	d = readdir(dir);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ(first, d->d_name);
	closedir(dir);
}

/* Regular files read through: read, pread, lseek, sendfile-style splice, mmap. */
TEST_F(union_fs, file_read)
{
	char p[PATH_LEN], buf[8192], big[8192];
	const char *mnt[2] = { self->t.u, self->t.o };
	int i, j, fd;
	char *map;

	for (i = 0; i < (int)sizeof(big) - 1; i++)
		big[i] = 'a' + i % 26;
	big[sizeof(big) - 1] = 0;
	ASSERT_EQ(0, put_file(self->t.l[1], "big", big, 0644));
	ASSERT_EQ(0, put_file(self->t.l[0], "small", "hello", 0444));
	ASSERT_EQ(0, mount_both(&self->t, 2));

	for (j = 0; j < 2; j++) {
		fd = open(pathf(p, "%s/big", mnt[j]), O_RDONLY);
		ASSERT_LE(0, fd);
		EXPECT_EQ((off_t)strlen(big), lseek(fd, 0, SEEK_END));
		EXPECT_EQ(100, lseek(fd, 100, SEEK_SET));
		EXPECT_EQ(10, read(fd, buf, 10));
		EXPECT_EQ(0, memcmp(buf, big + 100, 10));
		EXPECT_EQ(110, lseek(fd, 0, SEEK_CUR));
		EXPECT_EQ(26, pread(fd, buf, 26, 26 * 100));
		EXPECT_EQ(0, memcmp(buf, "abcdefghijklmnopqrstuvwxyz", 26));
		map = mmap(NULL, 8191, PROT_READ, MAP_PRIVATE, fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		EXPECT_EQ(0, memcmp(map, big, 8191));
		munmap(map, 8191);
		/* A read-only union: no writing. */
		EXPECT_EQ(-1, open(pathf(p, "%s/big", mnt[j]), O_WRONLY));
		EXPECT_EQ(EROFS, errno);
		EXPECT_EQ(-1, open(pathf(p, "%s/new", mnt[j]), O_CREAT | O_WRONLY, 0644));
		EXPECT_EQ(EROFS, errno);
		EXPECT_EQ(-1, mkdir(pathf(p, "%s/newdir", mnt[j]), 0755));
		EXPECT_EQ(EROFS, errno);
		close(fd);
		ASSERT_EQ(0, read_file(pathf(p, "%s/small", mnt[j]), buf, sizeof(buf)));
		EXPECT_STREQ("hello", buf);
	}
}

/* st_dev and st_ino, on one filesystem and on several, as overlayfs shows them. */
TEST_F(union_fs, stat_dev_ino)
{
	const char *mnt[2] = { self->t.u, self->t.o };
	char p[PATH_LEN];
	struct stat root, dir, f0, f1, real0, mp;
	dev_t unrelated[2];
	int j, i;

	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_file(self->t.l[0], "f0", "0", 0644));
	ASSERT_EQ(0, put_file(self->t.l[1], "f1", "1", 0644));
	ASSERT_EQ(0, stat(pathf(p, "%s/f0", self->t.l[0]), &real0));
	ASSERT_EQ(0, mount_both(&self->t, 2));

	/* All layers on one tmpfs: the union's device, the real inode numbers. */
	for (j = 0; j < 2; j++) {
		ASSERT_EQ(0, stat(mnt[j], &root));
		ASSERT_EQ(0, stat(pathf(p, "%s/d", mnt[j]), &dir));
		ASSERT_EQ(0, stat(pathf(p, "%s/f0", mnt[j]), &f0));
		ASSERT_EQ(0, stat(pathf(p, "%s/f1", mnt[j]), &f1));
		EXPECT_EQ(root.st_dev, dir.st_dev);
		EXPECT_EQ(root.st_dev, f0.st_dev);
		EXPECT_EQ(root.st_dev, f1.st_dev);
		EXPECT_NE(real0.st_dev, f0.st_dev);
		EXPECT_EQ(real0.st_ino, f0.st_ino);
		/* A merged directory has one link, as overlayfs says. */
		EXPECT_EQ(1, root.st_nlink);
	}
	ASSERT_EQ(0, unmount_both(&self->t));

	/* Each layer on a tmpfs of its own. */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, sys_mount("tmpfs", self->t.l[i], "tmpfs", 0, NULL));
		self->t.extra_tmpfs = i + 1;
		ASSERT_EQ(0, put_dir(self->t.l[i], "d"));
		ASSERT_EQ(0, put_file(self->t.l[i], i ? "f1" : "f0", "x", 0644));
		ASSERT_EQ(0, put_file(self->t.l[i], i ? "g1" : "g0", "y", 0644));
		ASSERT_EQ(0, stat(self->t.l[i], &mp));
		unrelated[i] = mp.st_dev;
	}
	ASSERT_EQ(0, mount_both(&self->t, 2));
	for (j = 0; j < 2; j++) {
		struct stat g0, g1;

		ASSERT_EQ(0, stat(mnt[j], &root));
		ASSERT_EQ(0, stat(pathf(p, "%s/d", mnt[j]), &dir));
		ASSERT_EQ(0, stat(pathf(p, "%s/f0", mnt[j]), &f0));
		ASSERT_EQ(0, stat(pathf(p, "%s/f1", mnt[j]), &f1));
		ASSERT_EQ(0, stat(pathf(p, "%s/g0", mnt[j]), &g0));
		ASSERT_EQ(0, stat(pathf(p, "%s/g1", mnt[j]), &g1));
		/* Directories: the union's device. */
		EXPECT_EQ(root.st_dev, dir.st_dev);
		/* Files: one device per layer filesystem, neither the union's nor the real. */
		EXPECT_NE(root.st_dev, f0.st_dev);
		EXPECT_NE(f0.st_dev, f1.st_dev);
		EXPECT_EQ(f0.st_dev, g0.st_dev);
		EXPECT_EQ(f1.st_dev, g1.st_dev);
		EXPECT_NE(unrelated[0], f0.st_dev);
		EXPECT_NE(unrelated[1], f1.st_dev);
	}
}

/* Copies fmt to out with @1..@8 replaced by args[0..7]. */
static char *subst(char *out, size_t size, const char *fmt, const char *args[8])
{
	size_t n = 0;

	for (; *fmt && n + 1 < size; fmt++) {
		if (fmt[0] == '@' && fmt[1] >= '1' && fmt[1] <= '8') {
			n += snprintf(out + n, size - n, "%s", args[fmt[1] - '1']);
			fmt++;
		} else {
			out[n++] = *fmt;
		}
		if (n >= size)
			n = size - 1;
	}
	out[n] = 0;
	return out;
}

/* Bad options fail on both, with the same error; unionfs explains in the log. */
TEST_F(union_fs, bad_options)
{
	char file[PATH_LEN], nested[PATH_LEN];
	struct {
		const char *fmt;
		int expect;	/* 0: whatever overlayfs says */
	} cases[] = {
		{ "", EINVAL },				/* no lowerdir */
		{ "lowerdir=@1", EINVAL },		/* one lower layer, no upper */
		{ "lowerdir=", EINVAL },
		{ "lowerdir=:@1:@2", EINVAL },
		{ "lowerdir=@1:@2:", EINVAL },
		{ "lowerdir=@1::@2", EINVAL },		/* data-only layers */
		{ "lowerdir=@1:@3", EINVAL },		/* not a directory */
		{ "lowerdir=@1:@2/none", ENOENT },
		{ "lowerdir=@1:@2,bogus=1", EINVAL },
		{ "lowerdir=@1:@2,bogus", EINVAL },
		{ "lowerdir=@1:@1", 0 },		/* the same layer twice */
		{ "lowerdir=@1:@4", 0 },		/* one layer inside another */
	};
	const char *args[8] = { self->t.l[0], self->t.l[1], file, nested, "", "", "", "" };
	char opts[4 * PATH_LEN];
	unsigned int i;
	int eu, eo;

	ASSERT_EQ(0, put_file(self->t.l[2], "file", "f", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "nested"));
	pathf(file, "%s/file", self->t.l[2]);
	pathf(nested, "%s/nested", self->t.l[0]);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		subst(opts, sizeof(opts), cases[i].fmt, args);
		eu = sys_mount("unionfs", self->t.u, "unionfs", 0, opts);
		eo = sys_mount("overlay", self->t.o, "overlay", 0, opts);
		if (!eu)
			sys_umount(self->t.u);
		if (!eo)
			sys_umount(self->t.o);
		EXPECT_EQ(eo, eu) TH_LOG("options '%s': unionfs %d, overlayfs %d", opts, eu, eo);
		EXPECT_NE(0, eu) TH_LOG("options '%s' mounted", opts);
		if (cases[i].expect)
			EXPECT_EQ(-cases[i].expect, eu) TH_LOG("options '%s'", opts);
	}
}

/*
 * upperdir and workdir are checked as overlayfs checks them, with its
 * errors, and layers must not overlap; a workdir without upperdir is
 * ignored, as overlayfs does.
 */
TEST_F(union_fs, upper_work_options)
{
	char up[PATH_LEN], work[PATH_LEN], file[PATH_LEN], p[PATH_LEN];
	const char *args[8] = { self->t.l[0], self->t.l[1], file, "", up, work,
				self->t.other, self->t.robind };
	struct {
		const char *fmt;
		int expect;
	} cases[] = {
		{ "lowerdir=@1:@2,upperdir=@5", EINVAL },		/* no workdir */
		{ "upperdir=@5,workdir=@6", EINVAL },			/* no lowerdir */
		{ "lowerdir=@1,upperdir=@5,workdir=@5", EINVAL },	/* the same */
		{ "lowerdir=@1,upperdir=@5,workdir=@5/w", EINVAL },	/* work in upper */
		{ "lowerdir=@1,upperdir=@6/u,workdir=@6", EINVAL },	/* upper in work */
		{ "lowerdir=@1,upperdir=@5,workdir=@7", EINVAL },	/* other mount */
		{ "lowerdir=@1,upperdir=@8,workdir=@6", EINVAL },	/* read-only */
		{ "lowerdir=@1,upperdir=@5,workdir=@8", EINVAL },	/* read-only */
		{ "lowerdir=@1,upperdir=@5/none,workdir=@6", ENOENT },
		{ "lowerdir=@1,upperdir=@3,workdir=@6", EINVAL },	/* a file */
		{ "lowerdir=@1,workdir=@6", EINVAL },	/* ignored: one lower layer */
		{ "lowerdir=@5/w,upperdir=@5,workdir=@6", ELOOP },	/* lower in upper */
		{ "lowerdir=@6/u,upperdir=@5,workdir=@6", ELOOP },	/* lower in work */
		{ "lowerdir=@5,upperdir=@5,workdir=@6", ELOOP },	/* lower is upper */
		{ "lowerdir=@1,upperdir=@5,workdir=@1/wk", 0 },	/* work in lower */
		{ "lowerdir=@5/..,upperdir=@5,workdir=@6", 0 },	/* upper in lower */
	};
	char opts[4 * PATH_LEN];
	unsigned int i;
	int eu, eo, fd;

	pathf(up, "%s/up", self->t.base);
	pathf(work, "%s/work", self->t.base);
	pathf(file, "%s/file", self->t.base);
	ASSERT_EQ(0, mkdir(up, 0755));
	ASSERT_EQ(0, mkdir(pathf(p, "%s/w", up), 0755));
	ASSERT_EQ(0, mkdir(work, 0755));
	ASSERT_EQ(0, mkdir(pathf(p, "%s/u", work), 0755));
	ASSERT_EQ(0, mkdir(pathf(p, "%s/wk", self->t.l[0]), 0755));
	ASSERT_EQ(0, put_file(self->t.base, "file", "f", 0644));
	pathf(p, "%s/other", self->t.base);
	ASSERT_EQ(0, mkdir(p, 0755));
	ASSERT_EQ(0, sys_mount("tmpfs", p, "tmpfs", 0, NULL));
	snprintf(self->t.other, sizeof(self->t.other), "%s", p);
	pathf(p, "%s/robind", self->t.base);
	ASSERT_EQ(0, mkdir(p, 0755));
	ASSERT_EQ(0, sys_mount(up, p, NULL, MS_BIND, NULL));
	snprintf(self->t.robind, sizeof(self->t.robind), "%s", p);
	ASSERT_EQ(0, sys_mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL));

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		subst(opts, sizeof(opts), cases[i].fmt, args);
		eu = sys_mount("unionfs", self->t.u, "unionfs", 0, opts);
		eo = sys_mount("overlay", self->t.o, "overlay", 0, opts);
		if (!eu)
			sys_umount(self->t.u);
		if (!eo)
			sys_umount(self->t.o);
		EXPECT_EQ(eo, eu) TH_LOG("options '%s': unionfs %d, overlayfs %d", opts, eu, eo);
		if (cases[i].expect)
			EXPECT_EQ(-cases[i].expect, eu) TH_LOG("options '%s'", opts);
	}

	/* A workdir without upperdir is ignored: a read-only union. */
	subst(opts, sizeof(opts), "lowerdir=@1:@2,workdir=@6", args);
	EXPECT_EQ(0, sys_mount("unionfs", self->t.u, "unionfs", 0, opts));
	EXPECT_EQ(0, sys_mount("overlay", self->t.o, "overlay", 0, opts));
	EXPECT_EQ(0, sys_umount(self->t.u));
	EXPECT_EQ(0, sys_umount(self->t.o));

	/* A valid writable union mounts on both. */
	subst(opts, sizeof(opts), "lowerdir=@1,upperdir=@5,workdir=@6", args);
	EXPECT_EQ(0, sys_mount("overlay", self->t.o, "overlay", 0, opts));
	EXPECT_EQ(0, sys_umount(self->t.o));
	EXPECT_EQ(0, sys_mount("unionfs", self->t.u, "unionfs", 0, opts));
	EXPECT_EQ(0, sys_umount(self->t.u));
	fd = syscall(__NR_fsopen, "unionfs", FSOPEN_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, syscall(__NR_fsconfig, fd, FSCONFIG_SET_STRING, "lowerdir", args[0], 0));
	EXPECT_EQ(0, syscall(__NR_fsconfig, fd, FSCONFIG_SET_STRING, "upperdir", up, 0));
	EXPECT_EQ(0, syscall(__NR_fsconfig, fd, FSCONFIG_SET_STRING, "workdir", work, 0));
	EXPECT_EQ(0, syscall(__NR_fsconfig, fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	close(fd);
}

/* fsopen(): the error and its explanation in the context's log. */
TEST_F(union_fs, bad_options_log)
{
	char msg[512];
	int fd;
	ssize_t n;

	fd = syscall(__NR_fsopen, "unionfs", FSOPEN_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, syscall(__NR_fsconfig, fd, FSCONFIG_SET_STRING, "lowerdir",
			     self->t.l[0], 0));
	EXPECT_EQ(-1, syscall(__NR_fsconfig, fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	EXPECT_EQ(EINVAL, errno);
	n = read(fd, msg, sizeof(msg) - 1);
	ASSERT_LT(0, n);
	msg[n] = 0;
	EXPECT_EQ(0, strncmp(msg, "e unionfs: ", 11)) TH_LOG("log: %s", msg);
	EXPECT_NE(NULL, strstr(msg, "at least 2 lowerdir")) TH_LOG("log: %s", msg);
	close(fd);

	fd = syscall(__NR_fsopen, "unionfs", FSOPEN_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, syscall(__NR_fsconfig, fd, FSCONFIG_SET_STRING, "lowerdir",
			      "/nonexistent/path", 0));
	EXPECT_EQ(ENOENT, errno);
	n = read(fd, msg, sizeof(msg) - 1);
	ASSERT_LT(0, n);
	msg[n] = 0;
	EXPECT_NE(NULL, strstr(msg, "/nonexistent/path")) TH_LOG("log: %s", msg);
	EXPECT_EQ(-1, syscall(__NR_fsconfig, fd, FSCONFIG_SET_FLAG, "nosuchoption", NULL, 0));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

/* Only a privileged user mounts a union. */
TEST_F(union_fs, unprivileged)
{
	char opts[PATH_LEN];
	pid_t pid;
	int status;

	lower_opts(&self->t, 2, opts);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		if (sys_mount("unionfs", self->t.u, "unionfs", 0, opts) != -EPERM)
			_exit(3);
		/* Nor from a user namespace of its own. */
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 &&
		    sys_mount("unionfs", self->t.u, "unionfs", 0, opts) != -EPERM)
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * Changing a layer directly while mounted: new names show at the next lookup,
 * removed ones go, and nothing breaks. (overlayfs leaves this undefined.)
 */
TEST_F(union_fs, layer_changed_underneath)
{
	char p[PATH_LEN], buf[64];
	struct stat st;
	int fd, i;

	ASSERT_EQ(0, put_file(self->t.l[0], "a", "top", 0644));
	ASSERT_EQ(0, put_file(self->t.l[1], "a", "bottom", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, mount_both(&self->t, 2));

	EXPECT_EQ(-1, stat(pathf(p, "%s/new", self->t.u), &st));
	ASSERT_EQ(0, put_file(self->t.l[1], "new", "n", 0644));
	EXPECT_EQ(0, stat(pathf(p, "%s/new", self->t.u), &st));
	ASSERT_EQ(0, put_file(self->t.l[0], "d2", "x", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_file(self->t.l[0], "d/in_top", "t", 0644));
	EXPECT_EQ(0, stat(pathf(p, "%s/d/in_top", self->t.u), &st));

	/* An open file keeps reading the object it opened. */
	fd = open(pathf(p, "%s/a", self->t.u), O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink(pathf(p, "%s/a", self->t.l[0])));
	ASSERT_EQ(0, read_file(pathf(p, "%s/a", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("bottom", buf);
	EXPECT_EQ(3, pread(fd, buf, sizeof(buf), 0));
	close(fd);

	/* A whiteout added below hides at once. */
	ASSERT_EQ(0, put_whiteout(self->t.l[0], "new"));
	EXPECT_EQ(-1, stat(pathf(p, "%s/new", self->t.u), &st));
	EXPECT_EQ(ENOENT, errno);

	/* Churn under an open directory while reading it. */
	fd = open(pathf(p, "%s/d", self->t.u), O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	for (i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "d/churn%d", i);
		ASSERT_EQ(0, put_file(self->t.l[i % 2], name, "c", 0644));
		lseek(fd, 0, SEEK_SET);
		ASSERT_LE(0, syscall(__NR_getdents64, fd, p, sizeof(p)));
		if (i % 3 == 0)
			ASSERT_EQ(0, unlink(pathf(p, "%s/%s", self->t.l[i % 2], name)));
	}
	close(fd);
}

/* Names longer than the layers allow fail alike; . and .. walk as in any tree. */
TEST_F(union_fs, long_names_and_dots)
{
	const char *mnt[2] = { self->t.u, self->t.o };
	char p[PATH_LEN], name[300];
	struct stat st, parent;
	int j, err[2];

	memset(name, 'n', 256);
	name[256] = 0;
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d/e"));
	ASSERT_EQ(0, mount_both(&self->t, 2));
	for (j = 0; j < 2; j++) {
		err[j] = stat(pathf(p, "%s/%s", mnt[j], name), &st) ? errno : 0;
		ASSERT_EQ(0, stat(pathf(p, "%s/d/e/../..", mnt[j]), &st));
		ASSERT_EQ(0, stat(mnt[j], &parent));
		EXPECT_EQ(parent.st_ino, st.st_ino);
		EXPECT_EQ(parent.st_dev, st.st_dev);
		ASSERT_EQ(0, stat(pathf(p, "%s/d/./e/.", mnt[j]), &st));
		EXPECT_TRUE(S_ISDIR(st.st_mode));
	}
	EXPECT_EQ(ENAMETOOLONG, err[0]);
	EXPECT_EQ(err[1], err[0]);
}

static bool time_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < end->tv_sec ||
	       (now.tv_sec == end->tv_sec && now.tv_nsec < end->tv_nsec);
}

/* Reads every file of the union below dir; contents must be ones the layers hold. */
static int churn_reader(const char *dir, const struct timespec *end)
{
	char p[PATH_LEN], buf[64];
	struct dirent *d;
	DIR *dp;
	int bad = 0;

	while (time_left(end)) {
		dp = opendir(dir);
		if (!dp)
			return 1;
		while ((d = readdir(dp))) {
			if (d->d_name[0] == '.')
				continue;
			if (read_file(pathf(p, "%s/%s", dir, d->d_name), buf, sizeof(buf)))
				continue;	/* gone, or a directory */
			if (strcmp(buf, "top") && strcmp(buf, "bottom") && strcmp(buf, "moved"))
				bad++;
		}
		rewinddir(dp);
		while (readdir(dp))
			;
		closedir(dp);
	}
	return bad ? 2 : 0;
}

/* Looks path up until its cached dentry is trusted without asking the layers. */
static int stat_settled(const char *path, struct stat *st)
{
	int ret;

	/* Longer than unionfs's "changed recently" window (25 ms). */
	usleep(60000);
	stat(path, st);
	ret = stat(path, st);
	return ret ? -errno : 0;
}

/*
 * Changing a layer directly after the union's names have settled in the cache
 * (and are trusted while the layer directories are unchanged): every kind of
 * change still shows at the next lookup, under RCU path walk too.
 */
TEST_F(union_fs, layer_changed_after_caching)
{
	char p[PATH_LEN], buf[64];
	struct stat st;
	int round;

	ASSERT_EQ(0, put_file(self->t.l[1], "a", "bottom", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, put_file(self->t.l[1], "d/below", "b", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "x"));
	ASSERT_EQ(0, put_xattr(self->t.l[0], "x", "trusted.overlay.opaque", "x"));
	ASSERT_EQ(0, put_file(self->t.l[0], "x/e", "", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[1], "x"));
	ASSERT_EQ(0, put_file(self->t.l[1], "x/e", "hidden", 0644));
	ASSERT_EQ(0, mount_both(&self->t, 2));

	for (round = 0; round < 3; round++) {
		char name[32];

		/* A name added below a cached negative dentry shows. */
		snprintf(name, sizeof(name), "new%d", round);
		EXPECT_EQ(-ENOENT, stat_settled(pathf(p, "%s/%s", self->t.u, name), &st));
		ASSERT_EQ(0, put_file(self->t.l[1], name, "n", 0644));
		EXPECT_EQ(0, stat(p, &st));

		/* A whiteout added above hides it. */
		EXPECT_EQ(0, stat_settled(p, &st));
		ASSERT_EQ(0, put_whiteout(self->t.l[0], name));
		EXPECT_EQ(-1, stat(p, &st));
		EXPECT_EQ(ENOENT, errno);

		/* A file added above shows instead of the one below. */
		EXPECT_EQ(0, stat_settled(pathf(p, "%s/a", self->t.u), &st));
		EXPECT_EQ(6, st.st_size);
		ASSERT_EQ(0, put_file(self->t.l[0], "a", "top", 0644));
		ASSERT_EQ(0, read_file(p, buf, sizeof(buf)));
		EXPECT_STREQ("top", buf);
		ASSERT_EQ(0, unlink(pathf(buf, "%s/a", self->t.l[0])));
		EXPECT_EQ(0, stat(p, &st));
		EXPECT_EQ(6, st.st_size);
	}

	/* A directory made opaque above hides what is below it. */
	EXPECT_EQ(0, stat_settled(pathf(p, "%s/d/below", self->t.u), &st));
	ASSERT_EQ(0, put_xattr(self->t.l[0], "d", "trusted.overlay.opaque", "y"));
	EXPECT_EQ(-1, stat(p, &st));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, removexattr(pathf(buf, "%s/d", self->t.l[0]), "trusted.overlay.opaque"));
	EXPECT_EQ(0, stat(p, &st));

	/*
	 * An empty file made a whiteout with the attribute (in a directory marked
	 * for such whiteouts) hides itself and what is below.
	 */
	EXPECT_EQ(0, stat_settled(pathf(p, "%s/x/e", self->t.u), &st));
	EXPECT_EQ(0, st.st_size);
	ASSERT_EQ(0, put_xattr(self->t.l[0], "x/e", "trusted.overlay.whiteout", ""));
	EXPECT_EQ(-1, stat(p, &st));
	EXPECT_EQ(ENOENT, errno);

	/* A name removed below, in a cached merged directory, goes. */
	EXPECT_EQ(0, stat_settled(pathf(p, "%s/d/below", self->t.u), &st));
	ASSERT_EQ(0, unlink(pathf(buf, "%s/d/below", self->t.l[1])));
	EXPECT_EQ(-1, stat(p, &st));
	EXPECT_EQ(ENOENT, errno);
}

/* Changes a layer directly: files, whiteouts, directories, renames, opaque marks. */
static int churn_changer(const char *layer, int seed, const struct timespec *end)
{
	char p[PATH_LEN], q[PATH_LEN], name[32];
	unsigned int r = seed;
	int i;

	while (time_left(end)) {
		r = r * 1103515245 + 12345;
		i = (r >> 8) % 16;
		snprintf(name, sizeof(name), "d/f%d", i);
		switch ((r >> 16) % 6) {
		case 0:
			/* Files appear whole: written aside, then renamed in. */
			put_file(layer, "stage", seed ? "bottom" : "top", 0644);
			rename(pathf(p, "%s/stage", layer), pathf(q, "%s/%s", layer, name));
			break;
		case 1:
			unlink(pathf(p, "%s/%s", layer, name));
			break;
		case 2:
			put_whiteout(layer, name);
			break;
		case 3:
			mkdir(pathf(p, "%s/%s", layer, name), 0755);
			rmdir(p);
			break;
		case 4:
			put_file(layer, "stage", "moved", 0644);
			rename(pathf(p, "%s/stage", layer), pathf(q, "%s/%s", layer, name));
			break;
		case 5:
			if (r & 1)
				put_xattr(layer, "d", "trusted.overlay.opaque", "y");
			else
				removexattr(pathf(p, "%s/d", layer), "trusted.overlay.opaque");
			break;
		}
	}
	return 0;
}

/*
 * Stress: readers of the union while both layers change directly. Nothing
 * may crash, warn or deadlock (lockdep and KASAN watch), what is read must
 * be data the layers hold, and afterwards the union (with everything it
 * cached) shows exactly what a fresh union of the layers shows, every name
 * it lists can be looked up. (overlayfs is no oracle here: it lists the
 * whiteouts of a directory that only one layer holds.)
 */
TEST_F(union_fs, stress_layer_churn)
{
	struct timespec end;
	char p[PATH_LEN];
	pid_t pids[6];
	int i, status, n = 0;
	char *tree;

	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	for (i = 0; i < 16; i++) {
		char name[32];

		snprintf(name, sizeof(name), "d/f%d", i);
		ASSERT_EQ(0, put_file(self->t.l[i % 2], name, i % 2 ? "bottom" : "top", 0644));
	}
	ASSERT_EQ(0, sys_mount("unionfs", self->t.u, "unionfs", 0,
			       lower_opts(&self->t, 2, p)));
	self->t.u_mounted = true;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 4;
	for (i = 0; i < 6; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			if (i < 2)
				_exit(churn_changer(self->t.l[i], i, &end));
			_exit(churn_reader(pathf(p, "%s/d", self->t.u), &end));
		}
	}
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("worker %d", i);
		n++;
	}
	EXPECT_EQ(6, n);

	/* A fresh union where the overlayfs mount usually is. */
	ASSERT_EQ(0, sys_mount("unionfs", self->t.o, "unionfs", 0, lower_opts(&self->t, 2, p)));
	self->t.o_mounted = true;
	tree = same_tree(_metadata, &self->t);
	EXPECT_EQ(NULL, strstr(tree, "error")) TH_LOG("%s", tree);
	free(tree);
}

/* A read-only union stays read-only: remounting it read-write fails. */
TEST_F(union_fs, remount)
{
	const char *mnt[2] = { self->t.u, self->t.o };
	char p[PATH_LEN];
	int j;

	ASSERT_EQ(0, put_file(self->t.l[1], "f", "f", 0644));
	ASSERT_EQ(0, mount_both(&self->t, 2));
	for (j = 0; j < 2; j++) {
		EXPECT_EQ(-EROFS, sys_mount(NULL, mnt[j], NULL, MS_REMOUNT, NULL));
		EXPECT_EQ(0, sys_mount(NULL, mnt[j], NULL, MS_REMOUNT | MS_RDONLY, NULL));
		EXPECT_EQ(-1, open(pathf(p, "%s/f", mnt[j]), O_WRONLY));
		EXPECT_EQ(EROFS, errno);
	}
}

/* A union in use does not unmount; once closed it does. */
TEST_F(union_fs, unmount_busy)
{
	char p[PATH_LEN];
	int fd;

	ASSERT_EQ(0, put_file(self->t.l[1], "f", "f", 0644));
	ASSERT_EQ(0, mount_both(&self->t, 2));
	fd = open(pathf(p, "%s/f", self->t.u), O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBUSY, sys_umount(self->t.u));
	close(fd);
	EXPECT_EQ(0, sys_umount(self->t.u));
	self->t.u_mounted = false;
}

/*
 * Writable unions: each union gets an upper layer and a work directory of
 * its own over the same lower layers; after the same sequence on both, the
 * unions and the upper layers must look alike.
 */

struct rw {
	char uu[PATH_LEN], uw[PATH_LEN];	/* unionfs's upper and work */
	char ou[PATH_LEN], ow[PATH_LEN];	/* overlayfs's */
};

/*
 * Whether mount_rw_in() mounts both unions with metacopy=on (unionfs's
 * default), rather than both with metacopy=off (overlayfs's default).
 * overlayfs's metacopy=on turns redirect_dir on, so the tests of its default
 * rules (EXDEV on directory renames) compare both with metacopy=off.
 */
static bool both_metacopy;

/* The metacopy option for a union of type, as both_metacopy wants it. */
static const char *metacopy_opt(const char *type)
{
	if (!strcmp(type, "unionfs"))
		return both_metacopy ? "" : ",metacopy=off";
	return both_metacopy ? ",metacopy=on" : "";
}

/* Mounts both unions with upper and work directories made in dir. */
static int mount_rw_in(struct unions *self, struct rw *rw, int layers, const char *dir)
{
	char lower[PATH_LEN], opts[4 * PATH_LEN];
	int err;

	pathf(rw->uu, "%s/uu", dir);
	pathf(rw->uw, "%s/uw", dir);
	pathf(rw->ou, "%s/ou", dir);
	pathf(rw->ow, "%s/ow", dir);
	if (mkdir(rw->uu, 0755) || mkdir(rw->uw, 0755) || mkdir(rw->ou, 0755) ||
	    mkdir(rw->ow, 0755))
		return -errno;
	lower_opts(self, layers, lower);
	snprintf(opts, sizeof(opts), "%s,upperdir=%s,workdir=%s%s", lower, rw->uu, rw->uw,
		 metacopy_opt("unionfs"));
	err = sys_mount("unionfs", self->u, "unionfs", 0, opts);
	if (err)
		return err;
	self->u_mounted = true;
	snprintf(opts, sizeof(opts), "%s,upperdir=%s,workdir=%s%s", lower, rw->ou, rw->ow,
		 metacopy_opt("overlay"));
	err = sys_mount("overlay", self->o, "overlay", 0, opts);
	if (err)
		return err;
	self->o_mounted = true;
	return 0;
}

static int mount_rw(struct unions *self, struct rw *rw, int layers)
{
	return mount_rw_in(self, rw, layers, self->base);
}

/* The two upper layers hold the same tree; returns unionfs's description. */
static char *same_upper(struct __test_metadata *_metadata, struct rw *rw)
{
	struct text tu = {}, to = {};

	EXPECT_EQ(0, describe(rw->uu, "", &tu));
	EXPECT_EQ(0, describe(rw->ou, "", &to));
	text_add(&tu, "");
	text_add(&to, "");
	EXPECT_STREQ(to.buf, tu.buf);
	free(to.buf);
	return tu.buf;
}

typedef int (*union_op)(const char *path, uintptr_t arg);

/* Runs f on the path rel in both unions; both must return the same. */
static void both(struct __test_metadata *_metadata, struct unions *t, const char *rel,
		 union_op f, const char *what, uintptr_t arg)
{
	char pu[PATH_LEN], po[PATH_LEN];
	int eu, eo;

	eu = f(pathf(pu, "%s/%s", t->u, rel), arg) ? -errno : 0;
	eo = f(pathf(po, "%s/%s", t->o, rel), arg) ? -errno : 0;
	EXPECT_EQ(eo, eu) TH_LOG("%s %s", what, rel);
}

#define BOTH(f, rel, arg) both(_metadata, &self->t, rel, f, #f, (uintptr_t)(arg))

static int append(const char *path, uintptr_t arg)
{
	const char *data = (const char *)arg;
	int fd = open(path, O_WRONLY | O_APPEND);
	ssize_t len = strlen(data);

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int open_close(const char *path, uintptr_t flags)
{
	int fd = open(path, flags);

	return fd < 0 ? -1 : close(fd);
}

static int do_truncate(const char *path, uintptr_t len)
{
	return truncate(path, len);
}

/* A lower tree with owners, modes, times and extended attributes to copy. */
static void put_rich_tree(struct __test_metadata *_metadata, const char *l)
{
	struct timespec times[2] = { { 1000000000, 5 }, { 1100000000, 7 } };
	char p[PATH_LEN];

	ASSERT_EQ(0, put_dir(l, "d"));
	ASSERT_EQ(0, put_dir(l, "d/sub"));
	ASSERT_EQ(0, chmod(pathf(p, "%s/d/sub", l), 0750));
	ASSERT_EQ(0, chown(pathf(p, "%s/d/sub", l), 1000, 1001));
	ASSERT_EQ(0, put_xattr(l, "d/sub", "user.dir", "dv"));
	ASSERT_EQ(0, put_file(l, "d/sub/f", "lower data", 0640));
	ASSERT_EQ(0, chown(pathf(p, "%s/d/sub/f", l), 1002, 1003));
	ASSERT_EQ(0, put_xattr(l, "d/sub/f", "user.x", "xv"));
	ASSERT_EQ(0, put_xattr(l, "d/sub/f", "trusted.y", "yv"));
	ASSERT_EQ(0, utimensat(AT_FDCWD, pathf(p, "%s/d/sub/f", l), times, 0));
	ASSERT_EQ(0, put_file(l, "d/sub/g", "untouched", 0644));
	ASSERT_EQ(0, put_file(l, "top", "top data", 04755));
}

static void expect_xattr(struct __test_metadata *_metadata, const char *path,
			 const char *name, const char *value)
{
	char buf[64];
	ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);

	ASSERT_LT(0, n) TH_LOG("%s %s: %s", path, name, strerror(errno));
	buf[n] = 0;
	EXPECT_STREQ(value, buf);
}

/* work/work is made afresh with no permissions, and an old one is emptied. */
TEST_F(union_fs, rw_workdir)
{
	struct rw rw;
	struct stat su, so;
	char p[PATH_LEN];

	ASSERT_EQ(0, put_file(self->t.l[0], "a", "a", 0644));
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 1));
	ASSERT_EQ(0, stat(pathf(p, "%s/work", rw.uw), &su));
	ASSERT_EQ(0, stat(pathf(p, "%s/work", rw.ow), &so));
	EXPECT_EQ(so.st_mode, su.st_mode);
	EXPECT_EQ(S_IFDIR, su.st_mode);
	ASSERT_EQ(0, sys_umount(self->t.u));
	self->t.u_mounted = false;
	ASSERT_EQ(0, put_file(rw.uw, "work/#1", "left over", 0644));
	ASSERT_EQ(0, put_dir(rw.uw, "work/#2"));
	ASSERT_EQ(0, put_file(rw.uw, "work/#2/x", "left over", 0644));
	pathf(p, "lowerdir=%s,upperdir=%s,workdir=%s", self->t.l[0], rw.uu, rw.uw);
	ASSERT_EQ(0, sys_mount("unionfs", self->t.u, "unionfs", 0, p));
	self->t.u_mounted = true;
	EXPECT_EQ(-1, stat(pathf(p, "%s/work/#1", rw.uw), &su));
	EXPECT_EQ(-1, stat(pathf(p, "%s/work/#2", rw.uw), &su));
	free(same_tree(_metadata, &self->t));
}

/*
 * Writing a lower file copies it and its parents up: data, mode, owner,
 * times and extended attributes, and the union shows the new data.
 */
TEST_F(union_fs, copy_up_write)
{
	struct rw rw;
	char p[PATH_LEN], buf[64], *tree;
	struct stat st;
	int layers;

	for (layers = 1; layers <= 2; layers++) {
		put_rich_tree(_metadata, self->t.l[layers - 1]);
		if (layers == 2) {
			ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
			ASSERT_EQ(0, put_dir(self->t.l[0], "d/sub"));
			ASSERT_EQ(0, put_file(self->t.l[0], "d/sub/g", "upper g", 0600));
		}
		ASSERT_EQ(0, mount_rw(&self->t, &rw, layers));

		/* Open for writing without writing: a copy with the lower times. */
		BOTH(open_close, "d/sub/f", O_RDWR);
		ASSERT_EQ(0, stat(pathf(p, "%s/d/sub/f", rw.uu), &st));
		EXPECT_EQ(1100000000, st.st_mtim.tv_sec);
		EXPECT_EQ(7, st.st_mtim.tv_nsec);
		EXPECT_EQ(1002, st.st_uid);
		EXPECT_EQ(1003, st.st_gid);
		expect_xattr(_metadata, pathf(p, "%s/d/sub/f", rw.uu), "user.x", "xv");
		expect_xattr(_metadata, pathf(p, "%s/d/sub/f", rw.uu), "trusted.y", "yv");
		if (layers == 1)
			expect_xattr(_metadata, pathf(p, "%s/d/sub", rw.uu), "user.dir", "dv");
		tree = same_upper(_metadata, &rw);
		EXPECT_TRUE(has_line(tree, "/d/sub/f mode=100640 uid=1002 gid=1003"))
			TH_LOG("%s", tree);
		if (layers == 1)
			EXPECT_TRUE(has_line(tree, "/d/sub mode=40750 uid=1000 gid=1001"))
				TH_LOG("%s", tree);
		EXPECT_FALSE(has_line(tree, "/d/sub/g")) TH_LOG("%s", tree);
		free(tree);

		BOTH(append, "d/sub/f", " appended");
		BOTH(append, "top", "!");
		ASSERT_EQ(0, read_file(pathf(p, "%s/d/sub/f", self->t.u), buf, sizeof(buf)));
		EXPECT_STREQ("lower data appended", buf);
		ASSERT_EQ(0, stat(pathf(p, "%s/d/sub/f", self->t.u), &st));
		EXPECT_EQ(19, st.st_size);
		ASSERT_EQ(0, read_file(pathf(p, "%s/d/sub/f", self->t.l[layers - 1]), buf,
				       sizeof(buf)));
		EXPECT_STREQ("lower data", buf);
		free(same_tree(_metadata, &self->t));
		free(same_upper(_metadata, &rw));

		ASSERT_EQ(0, unmount_both(&self->t));
		ASSERT_EQ(0, system(pathf(p, "rm -rf %s/uu %s/uw %s/ou %s/ow %s/l1/* %s/l2/*",
					  self->t.base, self->t.base, self->t.base,
					  self->t.base, self->t.base, self->t.base)));
	}
}

/* truncate() and open(O_TRUNC) copy up and cut the upper copy only. */
TEST_F(union_fs, copy_up_truncate)
{
	struct rw rw;
	char p[PATH_LEN], buf[64];

	put_rich_tree(_metadata, self->t.l[1]);
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 2));
	BOTH(do_truncate, "d/sub/f", 5);
	BOTH(open_close, "d/sub/g", O_WRONLY | O_TRUNC);
	BOTH(do_truncate, "top", 100);
	ASSERT_EQ(0, read_file(pathf(p, "%s/d/sub/f", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("lower", buf);
	ASSERT_EQ(0, read_file(pathf(p, "%s/d/sub/g", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	ASSERT_EQ(0, read_file(pathf(p, "%s/d/sub/f", self->t.l[1]), buf, sizeof(buf)));
	EXPECT_STREQ("lower data", buf);
	free(same_tree(_metadata, &self->t));
	free(same_upper(_metadata, &rw));
}

/*
 * A file opened read-only before its copy-up keeps working; writes through
 * a descriptor go to the copy, and mmap() writes too.
 */
TEST_F(union_fs, copy_up_open_files)
{
	struct rw rw;
	char p[PATH_LEN], buf[64];
	int ro, wr;
	char *map;

	ASSERT_EQ(0, put_file(self->t.l[0], "f", "0123456789", 0644));
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 1));
	ro = open(pathf(p, "%s/f", self->t.u), O_RDONLY);
	ASSERT_LE(0, ro);
	wr = open(pathf(p, "%s/f", self->t.u), O_RDWR);
	ASSERT_LE(0, wr);
	EXPECT_EQ(3, pwrite(wr, "abc", 3, 0));
	EXPECT_EQ(4, pread(ro, buf, 4, 6));
	EXPECT_EQ(0, memcmp(buf, "6789", 4));
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, wr, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[3] = 'D';
	EXPECT_EQ(0, msync(map, 4096, MS_SYNC));
	EXPECT_EQ(0, munmap(map, 4096));
	EXPECT_EQ(0, fsync(wr));
	close(wr);
	close(ro);
	ASSERT_EQ(0, read_file(pathf(p, "%s/f", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("abcD456789", buf);
	ASSERT_EQ(0, read_file(pathf(p, "%s/f", rw.uu), buf, sizeof(buf)));
	EXPECT_STREQ("abcD456789", buf);
	ASSERT_EQ(0, read_file(pathf(p, "%s/f", self->t.l[0]), buf, sizeof(buf)));
	EXPECT_STREQ("0123456789", buf);
}

/* A read-only union of lower layers refuses writes; a writable one's lower layers stay. */
TEST_F(union_fs, copy_up_leaves_lower)
{
	struct rw rw;
	struct text before = {}, after = {};
	char p[PATH_LEN];

	put_rich_tree(_metadata, self->t.l[0]);
	ASSERT_EQ(0, describe(self->t.l[0], "", &before));
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 1));
	BOTH(append, "d/sub/f", "x");
	BOTH(do_truncate, "d/sub/g", 0);
	BOTH(open_close, "top", O_WRONLY);
	ASSERT_EQ(0, describe(self->t.l[0], "", &after));
	text_add(&before, "");
	text_add(&after, "");
	EXPECT_STREQ(before.buf, after.buf);
	free(before.buf);
	free(after.buf);
	free(same_tree(_metadata, &self->t));
	free(same_upper(_metadata, &rw));
	/* Nothing is left in the work directory. */
	EXPECT_EQ(0, rmdir(pathf(p, "%s/work", rw.uw)));
}

/*
 * Reads leave the access time of lower files alone (a lower layer is only
 * read) and update it on upper files by the mount's relatime rule, as on
 * overlayfs.
 */
TEST_F(union_fs, read_atime)
{
	const struct timespec old[2] = { { .tv_sec = OLD_ATIME }, { .tv_nsec = UTIME_OMIT } };
	const char *mnt[2] = { self->t.u, self->t.o };
	struct rw rw;
	struct stat st;
	char p[PATH_LEN], buf[64];
	int k;

	ASSERT_EQ(0, put_file(self->t.l[0], "lower", "lower data\n", 0644));
	ASSERT_EQ(0, utimensat(AT_FDCWD, pathf(p, "%s/lower", self->t.l[0]), old, 0));
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 1));
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, read_file(pathf(p, "%s/lower", mnt[k]), buf, sizeof(buf)));
		EXPECT_STREQ("lower data\n", buf);
		ASSERT_EQ(0, put_file(mnt[k], "upper", "upper data\n", 0644));
		ASSERT_EQ(0, utimensat(AT_FDCWD, pathf(p, "%s/upper", mnt[k]), old, 0));
		ASSERT_EQ(0, read_file(p, buf, sizeof(buf)));
		ASSERT_EQ(0, stat(p, &st));
		EXPECT_LT(OLD_ATIME, st.st_atime) TH_LOG("%s", p);
	}
	ASSERT_EQ(0, stat(pathf(p, "%s/lower", self->t.l[0]), &st));
	EXPECT_EQ(OLD_ATIME, st.st_atime);
	ASSERT_EQ(0, stat(pathf(p, "%s/upper", rw.uu), &st));
	EXPECT_LT(OLD_ATIME, st.st_atime);
	ASSERT_EQ(0, stat(pathf(p, "%s/upper", rw.ou), &st));
	EXPECT_LT(OLD_ATIME, st.st_atime);
}

static int do_mkdir(const char *path, uintptr_t mode)
{
	return mkdir(path, mode);
}

static int do_rmdir(const char *path, uintptr_t unused)
{
	return rmdir(path);
}

static int do_unlink(const char *path, uintptr_t unused)
{
	return unlink(path);
}

static int do_create(const char *path, uintptr_t data)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0640);
	ssize_t len = strlen((const char *)data);

	if (fd < 0)
		return -1;
	if (write(fd, (const char *)data, len) != len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int do_symlink(const char *path, uintptr_t target)
{
	return symlink((const char *)target, path);
}

static int do_mkfifo(const char *path, uintptr_t mode)
{
	return mknod(path, S_IFIFO | mode, 0);
}

static int do_chmod(const char *path, uintptr_t mode)
{
	return chmod(path, mode);
}

static int do_lchown(const char *path, uintptr_t id)
{
	return lchown(path, id, id + 1);
}

static int do_utimes(const char *path, uintptr_t sec)
{
	struct timespec times[2] = { { sec, 0 }, { sec + 1, 0 } };

	return utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
}

static int do_setxattr(const char *path, uintptr_t name)
{
	return lsetxattr(path, (const char *)name, "v1", 2, 0);
}

static int do_removexattr(const char *path, uintptr_t name)
{
	return lremovexattr(path, (const char *)name);
}

static int do_getxattr(const char *path, uintptr_t name)
{
	char buf[64];

	return lgetxattr(path, (const char *)name, buf, sizeof(buf)) < 0 ? -1 : 0;
}

/* Whether listxattr() shows a name starting with prefix; -1 on error. */
static int lists(const char *path, const char *prefix)
{
	char buf[1024], *p;
	ssize_t n = llistxattr(path, buf, sizeof(buf));

	if (n < 0)
		return -1;
	for (p = buf; p < buf + n; p += strlen(p) + 1)
		if (!strncmp(p, prefix, strlen(prefix)))
			return 1;
	return 0;
}

/* Runs op on old and new names of both unions: rename, renameat2 and link. */
static void both2(struct __test_metadata *_metadata, struct unions *t, const char *op,
		  const char *from, const char *to, unsigned int flags)
{
	char uf[PATH_LEN], ut[PATH_LEN], of[PATH_LEN], ot[PATH_LEN];
	int eu, eo;

	pathf(uf, "%s/%s", t->u, from);
	pathf(ut, "%s/%s", t->u, to);
	pathf(of, "%s/%s", t->o, from);
	pathf(ot, "%s/%s", t->o, to);
	if (!strcmp(op, "link")) {
		eu = link(uf, ut) ? -errno : 0;
		eo = link(of, ot) ? -errno : 0;
	} else {
		eu = renameat2(AT_FDCWD, uf, AT_FDCWD, ut, flags) ? -errno : 0;
		eo = renameat2(AT_FDCWD, of, AT_FDCWD, ot, flags) ? -errno : 0;
	}
	EXPECT_EQ(eo, eu) TH_LOG("%s %s %s", op, from, to);
}

/* The value of trusted.overlay.opaque of an upper directory, or "-". */
static const char *opaque_of(const char *dir, const char *rel, char *buf)
{
	char p[PATH_LEN];
	ssize_t n = getxattr(pathf(p, "%s/%s", dir, rel), "trusted.overlay.opaque", buf, 7);

	if (n < 0)
		return "-";
	buf[n] = 0;
	return buf;
}

/*
 * The writable union's rules on one set of lower layers: new objects,
 * removal with whiteouts, opaque directories, ENOTEMPTY, renames and EXDEV,
 * links, and attribute changes that copy up every kind of object.
 */
static void rw_scenario(struct __test_metadata *_metadata, struct unions *self, int layers,
			const char *updir)
{
	const char *bottom = self->l[layers - 1];
	struct unions *t = self;
	char p[PATH_LEN], bu[8], bo[8], buf[64], *tree;
	struct rw rw;
	int i;

	for (i = 0; i < layers; i++) {
		ASSERT_EQ(0, put_dir(self->l[i], "merged"));
		snprintf(buf, sizeof(buf), "merged/from%d", i);
		ASSERT_EQ(0, put_file(self->l[i], buf, "m", 0644));
	}
	ASSERT_EQ(0, put_file(bottom, "a", "lower a", 0644));
	ASSERT_EQ(0, put_file(bottom, "b", "lower b", 0600));
	ASSERT_EQ(0, put_file(bottom, "xa", "xattrs", 0644));
	ASSERT_EQ(0, put_xattr(bottom, "xa", "user.old", "old"));
	ASSERT_EQ(0, put_dir(bottom, "empty"));
	ASSERT_EQ(0, put_dir(bottom, "full"));
	ASSERT_EQ(0, put_file(bottom, "full/x", "x", 0644));
	ASSERT_EQ(0, put_symlink(bottom, "sym", "a"));
	ASSERT_EQ(0, mknod(pathf(p, "%s/fifo", bottom), S_IFIFO | 0640, 0));
	ASSERT_EQ(0, mknod(pathf(p, "%s/null", bottom), S_IFCHR | 0666, makedev(1, 3)));
	if (layers > 1)
		ASSERT_EQ(0, put_whiteout(self->l[0], "b"));
	ASSERT_EQ(0, mount_rw_in(self, &rw, layers, updir));

#define B(f, rel, arg) both(_metadata, t, rel, f, #f, (uintptr_t)(arg))
	/* New objects, also over a whiteout (b) and in a merged directory. */
	B(do_create, "new", "new data");
	B(do_create, "a", "exists");
	B(do_create, "b", "over whiteout");
	B(do_create, "merged/new", "in merged");
	B(do_mkdir, "newdir", 0750);
	B(do_create, "newdir/inner", "inner");
	B(do_symlink, "newlink", "new");
	B(do_mkfifo, "newfifo", 0600);

	/* Removal: whiteouts for lower names, ENOTEMPTY for shown entries. */
	B(do_unlink, "a", 0);
	B(do_unlink, "a", 0);
	B(do_rmdir, "empty", 0);
	B(do_rmdir, "full", 0);
	B(do_rmdir, "merged", 0);
	B(do_unlink, "full/x", 0);
	B(do_rmdir, "full", 0);
	B(do_unlink, "newdir/inner", 0);
	B(do_rmdir, "newdir", 0);
	B(do_unlink, "sym", 0);

	/* Over a whiteout, a directory is opaque. */
	B(do_mkdir, "full", 0700);
	B(do_create, "full/again", "again");
	EXPECT_STREQ(opaque_of(rw.ou, "full", bo), opaque_of(rw.uu, "full", bu));
	EXPECT_STREQ("y", bu);
	B(do_create, "empty", "a file where a directory was");

	/* Renames: files anywhere, upper-only directories; EXDEV for lower ones. */
	both2(_metadata, t, "rename", "merged/from0", "moved", 0);
	both2(_metadata, t, "rename", "moved", "merged/back", 0);
	both2(_metadata, t, "rename", "new", "fifo", 0);
	both2(_metadata, t, "rename", "null", "b", RENAME_NOREPLACE);
	both2(_metadata, t, "rename", "null", "nullmoved", RENAME_NOREPLACE);
	B(do_mkdir, "updir", 0755);
	B(do_create, "updir/f", "f");
	both2(_metadata, t, "rename", "updir", "updir2", 0);
	both2(_metadata, t, "rename", "updir2", "a", 0);
	both2(_metadata, t, "rename", "merged", "merged2", 0);
	both2(_metadata, t, "rename", "full", "full2", 0);

	/* Links copy up first; both names show the same object. */
	both2(_metadata, t, "link", "merged/from1", "hard", 0);
	B(append, "hard", "+");

	/* Attribute changes copy up directories, symbolic links and special files. */
	B(do_chmod, "nullmoved", 0600);
	B(do_lchown, "newlink", 1234);
	B(do_utimes, "merged", 1200000000);
	B(do_chmod, "merged", 0711);

	/* Extended attributes: set copies up; overlayfs's own stay hidden. */
	B(do_setxattr, "xa", "user.new");
	B(do_setxattr, "fifo", "trusted.new");
	B(do_getxattr, "xa", "user.new");
	B(do_getxattr, "xa", "user.old");
	B(do_getxattr, "full2", "trusted.overlay.opaque");
	B(do_setxattr, "full2", "trusted.overlay.opaque");
	B(do_removexattr, "fifo", "trusted.new");
	B(do_removexattr, "fifo", "trusted.new");
	B(do_getxattr, "fifo", "trusted.new");
	/* A user's trusted.overlay.* is stored escaped, and listed under its name. */
	EXPECT_EQ(1, lists(pathf(p, "%s/full2", self->u), "trusted.overlay.opaque"));
	EXPECT_EQ(1, lists(pathf(p, "%s/full2", self->o), "trusted.overlay.opaque"));
	EXPECT_EQ(0, lists(pathf(p, "%s/full2", self->u), "trusted.overlay.overlay."));
	expect_xattr(_metadata, pathf(p, "%s/full2", rw.uu), "trusted.overlay.opaque", "y");
	expect_xattr(_metadata, pathf(p, "%s/full2", rw.uu), "trusted.overlay.overlay.opaque",
		     "v1");
	expect_xattr(_metadata, pathf(p, "%s/full2", rw.ou), "trusted.overlay.overlay.opaque",
		     "v1");
	B(do_getxattr, "full2", "trusted.overlay.opaque");
	B(do_removexattr, "full2", "trusted.overlay.opaque");
	EXPECT_EQ(0, lists(pathf(p, "%s/full2", self->u), "trusted.overlay."));
	EXPECT_EQ(0, lists(pathf(p, "%s/full2", self->o), "trusted.overlay."));
	EXPECT_EQ(1, lists(pathf(p, "%s/xa", self->u), "user.new"));
	EXPECT_EQ(1, lists(pathf(p, "%s/xa", self->o), "user.new"));
	EXPECT_EQ(1, lists(pathf(p, "%s/xa", self->u), "user.old"));
#undef B

	if (layers > 1) {
		ASSERT_EQ(0, read_file(pathf(p, "%s/merged/from1", self->u), buf, sizeof(buf)));
		EXPECT_STREQ("m+", buf);
	}
	tree = same_tree(_metadata, self);
	if (layers > 1)
		EXPECT_TRUE(has_line(tree, "/b mode=100640 uid=0 gid=0 size=13"))
			TH_LOG("%s", tree);
	EXPECT_FALSE(has_line(tree, "/sym")) TH_LOG("%s", tree);
	EXPECT_TRUE(has_line(tree, "/full2 mode=40700 uid=0 gid=0")) TH_LOG("%s", tree);
	EXPECT_FALSE(has_line(tree, "/full")) TH_LOG("%s", tree);
	free(tree);
	tree = same_upper(_metadata, &rw);
	EXPECT_TRUE(has_line(tree, "/sym mode=20000 uid=0 gid=0 rdev=0:0")) TH_LOG("%s", tree);
	free(tree);
	/* Nothing is left in unionfs's work directory (overlayfs keeps a whiteout to link). */
	EXPECT_EQ(0, rmdir(pathf(p, "%s/work", rw.uw)));
}

TEST_F(union_fs, rw_one_lower)
{
	rw_scenario(_metadata, &self->t, 1, self->t.base);
}

TEST_F(union_fs, rw_two_lowers)
{
	rw_scenario(_metadata, &self->t, 2, self->t.base);
}

TEST_F(union_fs, rw_three_lowers)
{
	rw_scenario(_metadata, &self->t, 3, self->t.base);
}

/* The same on ext4: layers, upper and work directories on one ext4 filesystem. */
TEST_F(union_fs, rw_ext4)
{
	char p[PATH_LEN], img[PATH_LEN];
	int i;

	pathf(img, "%s/ext4.img", self->t.base);
	ASSERT_EQ(0, system(pathf(p, "truncate -s 64M %s && mkfs.ext4 -q -F %s", img, img)));
	pathf(self->t.other, "%s/ext", self->t.base);
	ASSERT_EQ(0, mkdir(self->t.other, 0755));
	ASSERT_EQ(0, system(pathf(p, "mount -o loop %s %s", img, self->t.other)));
	for (i = 0; i < 3; i++) {
		pathf(self->t.l[i], "%s/l%d", self->t.other, i + 1);
		ASSERT_EQ(0, mkdir(self->t.l[i], 0755));
	}
	rw_scenario(_metadata, &self->t, 2, self->t.other);
	/* The unions go first: the teardown unmounts ext4 after them. */
	EXPECT_EQ(0, unmount_both(&self->t));
}

/* Changes of every kind, through the union mounted at m. */
static void write_sequence(struct __test_metadata *_metadata, const char *m)
{
	char p[PATH_LEN], q[PATH_LEN];
	struct timespec times[2] = { { 1300000000, 0 }, { 1300000001, 0 } };

	ASSERT_EQ(0, put_file(m, "new", "new data", 0640));
	ASSERT_EQ(0, append(pathf(p, "%s/d/sub/f", m), (uintptr_t)" more"));
	ASSERT_EQ(0, unlink(pathf(p, "%s/d/sub/g", m)));
	ASSERT_EQ(0, rmdir(pathf(p, "%s/gone", m)));
	ASSERT_EQ(0, mkdir(pathf(p, "%s/gone", m), 0700));
	ASSERT_EQ(0, put_file(m, "gone/in", "in", 0600));
	ASSERT_EQ(0, rename(pathf(p, "%s/top", m), pathf(q, "%s/d/top2", m)));
	ASSERT_EQ(0, chmod(pathf(p, "%s/d/sub", m), 0700));
	ASSERT_EQ(0, lchown(pathf(p, "%s/link", m), 7, 8));
	ASSERT_EQ(0, utimensat(AT_FDCWD, pathf(p, "%s/d", m), times, 0));
	ASSERT_EQ(0, setxattr(pathf(p, "%s/d/sub/f", m), "user.added", "a", 1, 0));
	ASSERT_EQ(0, removexattr(pathf(p, "%s/d/sub/f", m), "user.x"));
	ASSERT_EQ(0, setxattr(pathf(p, "%s/new", m), "trusted.overlay.mine", "m", 1, 0));
	ASSERT_EQ(0, symlink("new", pathf(p, "%s/d/newlink", m)));
	ASSERT_EQ(0, link(pathf(p, "%s/new", m), pathf(q, "%s/d/hard", m)));
}

static int mount_one(const char *type, const char *mnt, const char *lower, const char *upper,
		     const char *work)
{
	char opts[4 * PATH_LEN];

	snprintf(opts, sizeof(opts), "%s,upperdir=%s,workdir=%s%s", lower, upper, work,
		 metacopy_opt(type));
	return sys_mount(type, mnt, type, 0, opts);
}

static char *describe_union(struct __test_metadata *_metadata, const char *mnt)
{
	struct text t = {};

	describe_xattrs = true;
	EXPECT_EQ(0, describe(mnt, "", &t));
	describe_xattrs = false;
	text_add(&t, "");
	return t.buf;
}

/* Makes the upper and work directories of both unions (mount_rw()), left unmounted. */
static void rw_dirs(struct __test_metadata *_metadata, struct unions *t, struct rw *rw,
		    int layers)
{
	ASSERT_EQ(0, mount_rw(t, rw, layers));
	ASSERT_EQ(0, unmount_both(t));
}

/*
 * Layers written through unionfs read the same through overlayfs, and the
 * reverse: the same tree, contents, modes, owners and extended attributes.
 */
TEST_F(union_fs, interchange)
{
	char lower[PATH_LEN], *a, *b, *c, *d;
	struct rw rw;

	put_rich_tree(_metadata, self->t.l[1]);
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_file(self->t.l[0], "d/upper_lower", "ul", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[1], "gone"));
	ASSERT_EQ(0, put_symlink(self->t.l[0], "link", "top"));
	lower_opts(&self->t, 2, lower);
	rw_dirs(_metadata, &self->t, &rw, 2);

	/* Written by unionfs, read by overlayfs. */
	ASSERT_EQ(0, mount_one("unionfs", self->t.u, lower, rw.uu, rw.uw));
	write_sequence(_metadata, self->t.u);
	a = describe_union(_metadata, self->t.u);
	ASSERT_EQ(0, sys_umount(self->t.u));
	ASSERT_EQ(0, mount_one("overlay", self->t.o, lower, rw.uu, rw.uw));
	b = describe_union(_metadata, self->t.o);
	ASSERT_EQ(0, sys_umount(self->t.o));
	EXPECT_STREQ(a, b);

	/* Written by overlayfs, read by unionfs. */
	ASSERT_EQ(0, mount_one("overlay", self->t.o, lower, rw.ou, rw.ow));
	write_sequence(_metadata, self->t.o);
	c = describe_union(_metadata, self->t.o);
	ASSERT_EQ(0, sys_umount(self->t.o));
	ASSERT_EQ(0, mount_one("unionfs", self->t.u, lower, rw.ou, rw.ow));
	d = describe_union(_metadata, self->t.u);
	ASSERT_EQ(0, sys_umount(self->t.u));
	EXPECT_STREQ(c, d);

	/* And both wrote the same. */
	EXPECT_STREQ(a, c);
	EXPECT_NE(NULL, strstr(a, "/new mode=100640")) TH_LOG("%s", a);
	EXPECT_NE(NULL, strstr(a, "trusted.overlay.mine=m")) TH_LOG("%s", a);
	EXPECT_EQ(NULL, strstr(a, "/d/sub/g ")) TH_LOG("%s", a);
	EXPECT_EQ(NULL, strstr(a, "/top ")) TH_LOG("%s", a);
	EXPECT_NE(NULL, strstr(a, "/d/top2 mode=104755")) TH_LOG("%s", a);
	EXPECT_NE(NULL, strstr(a, "/d/hard mode=100640")) TH_LOG("%s", a);
	free(a);
	free(b);
	free(c);
	free(d);
}

/*
 * A copy-up that does not fit in the upper layer fails with ENOSPC on both,
 * and leaves the lower file, the union and the upper layer as they were.
 */
TEST_F(union_fs, copy_up_enospc)
{
	char up[PATH_LEN], p[PATH_LEN], buf[64];
	struct text before = {}, after = {};
	struct rw rw;
	int fd, i;

	fd = open(pathf(p, "%s/big", self->t.l[0]), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	for (i = 0; i < 256; i++)
		ASSERT_EQ(sizeof(p), write(fd, memset(p, 'a' + i % 26, sizeof(p)), sizeof(p)));
	close(fd);
	ASSERT_EQ(0, put_file(self->t.l[0], "small", "small", 0644));
	/* Upper and work directories on a tmpfs too small for the big file. */
	pathf(up, "%s/tiny", self->t.base);
	ASSERT_EQ(0, mkdir(up, 0755));
	ASSERT_EQ(0, sys_mount("tmpfs", up, "tmpfs", 0, "size=64k"));
	snprintf(self->t.other, sizeof(self->t.other), "%s", up);
	ASSERT_EQ(0, mount_rw_in(&self->t, &rw, 1, up));
	ASSERT_EQ(0, describe(self->t.u, "", &before));
	BOTH(open_close, "big", O_WRONLY);
	BOTH(do_truncate, "big", 1);
	EXPECT_EQ(-1, open(pathf(p, "%s/big", self->t.u), O_RDWR));
	EXPECT_EQ(ENOSPC, errno);
	ASSERT_EQ(0, describe(self->t.u, "", &after));
	text_add(&before, "");
	text_add(&after, "");
	EXPECT_STREQ(before.buf, after.buf);
	EXPECT_EQ(-1, access(pathf(p, "%s/big", rw.uu), F_OK));
	EXPECT_EQ(-1, access(pathf(p, "%s/big", rw.ou), F_OK));
	ASSERT_EQ(0, read_file(pathf(p, "%s/big", self->t.l[0]), buf, 4));
	EXPECT_STREQ("aaa", buf);
	/* What fits still copies up. */
	BOTH(append, "small", "!");
	free(same_tree(_metadata, &self->t));
	free(same_upper(_metadata, &rw));
	free(before.buf);
	free(after.buf);
	/* Nothing half-made is left in the work directory. */
	EXPECT_EQ(0, rmdir(pathf(p, "%s/work", rw.uw)));
	/* The unions go before their upper filesystem. */
	EXPECT_EQ(0, unmount_both(&self->t));
}

/*
 * A directory copied up watches its new upper directory: names added there
 * directly show in the union even where it cached their absence.
 */
TEST_F(union_fs, upper_changed_after_copy_up)
{
	char p[PATH_LEN];
	struct rw rw;
	struct stat st;
	int fd;

	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_file(self->t.l[0], "d/f", "lower", 0644));
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 1));

	EXPECT_EQ(-ENOENT, stat_settled(pathf(p, "%s/d/before", self->t.u), &st));
	fd = open(pathf(p, "%s/d/f", self->t.u), O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, write(fd, "+", 1));
	close(fd);
	EXPECT_EQ(0, stat(pathf(p, "%s/d/f", rw.uu), &st));
	EXPECT_EQ(-ENOENT, stat_settled(pathf(p, "%s/d/after", self->t.u), &st));

	ASSERT_EQ(0, put_file(rw.uu, "d/before", "b", 0644));
	ASSERT_EQ(0, put_file(rw.uu, "d/after", "a", 0644));
	EXPECT_EQ(0, stat(pathf(p, "%s/d/before", self->t.u), &st));
	EXPECT_EQ(0, stat(pathf(p, "%s/d/after", self->t.u), &st));
	/* Once settled, a name removed from the upper directory goes. */
	EXPECT_EQ(0, stat_settled(p, &st));
	ASSERT_EQ(0, unlink(pathf(p, "%s/d/after", rw.uu)));
	EXPECT_EQ(-1, stat(pathf(p, "%s/d/after", self->t.u), &st));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * Metadata-only copy-up (metacopy=on, unionfs's default): the tests run
 * overlayfs with metacopy=on on the same layers and compare.
 */

#define BIG_SIZE (8 << 20)

/* Writes a file of size bytes of a pattern that no hole reads as. */
static int put_big(const char *dir, const char *name, size_t size)
{
	char p[PATH_LEN], buf[4096];
	size_t done, i;
	int fd = open(pathf(p, "%s/%s", dir, name), O_CREAT | O_TRUNC | O_WRONLY, 0644);

	if (fd < 0)
		return -errno;
	for (done = 0; done < size; done += sizeof(buf)) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = 'a' + (done / sizeof(buf) + i) % 26;
		if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
			close(fd);
			return -EIO;
		}
	}
	return close(fd) ? -errno : 0;
}

/* The size of trusted.overlay.metacopy of path, or -errno. */
static ssize_t metacopy_len(const char *dir, const char *rel)
{
	char p[PATH_LEN], buf[64];
	ssize_t n = lgetxattr(pathf(p, "%s/%s", dir, rel), "trusted.overlay.metacopy", buf,
			      sizeof(buf));

	return n < 0 ? -errno : n;
}

/* The content hash of dir/rel, with its size in *size. */
static uint64_t hash_of(const char *dir, const char *rel, off_t *size)
{
	char p[PATH_LEN];

	return content_hash(pathf(p, "%s/%s", dir, rel), size);
}

/* The upper file dir/rel is a metacopy: no blocks, the size of len, the attribute. */
static void expect_metacopy(struct __test_metadata *_metadata, const char *dir,
			    const char *rel, off_t len)
{
	char p[PATH_LEN];
	struct stat st;

	ASSERT_EQ(0, lstat(pathf(p, "%s/%s", dir, rel), &st)) TH_LOG("%s", p);
	EXPECT_EQ(0, st.st_blocks) TH_LOG("%s", p);
	EXPECT_EQ(len, st.st_size) TH_LOG("%s", p);
	EXPECT_EQ(0, metacopy_len(dir, rel)) TH_LOG("%s", p);
}

/* The upper file dir/rel holds its data: blocks for len bytes, no attribute. */
static void expect_full_copy(struct __test_metadata *_metadata, const char *dir,
			     const char *rel, off_t len)
{
	char p[PATH_LEN];
	struct stat st;

	ASSERT_EQ(0, lstat(pathf(p, "%s/%s", dir, rel), &st)) TH_LOG("%s", p);
	EXPECT_LE(len / 512, st.st_blocks) TH_LOG("%s", p);
	EXPECT_EQ(-ENODATA, metacopy_len(dir, rel)) TH_LOG("%s", p);
}

/*
 * chmod, chown, utimes and setxattr of lower files write no data to the
 * upper layer; the union shows the new metadata and the lower data. The
 * first open for writing, write or truncate copies the data.
 */
TEST_F(union_fs, metacopy_setattr)
{
	char p[PATH_LEN], q[PATH_LEN], buf[64];
	struct stat st, lst;
	uint64_t h, lh;
	off_t size;
	struct rw rw;

	ASSERT_EQ(0, put_big(self->t.l[1], "big", BIG_SIZE));
	ASSERT_EQ(0, put_big(self->t.l[1], "wr", 1 << 20));
	ASSERT_EQ(0, put_file(self->t.l[1], "small", "small data", 0644));
	ASSERT_EQ(0, put_xattr(self->t.l[1], "small", "user.old", "old"));
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	ASSERT_EQ(0, put_dir(self->t.l[1], "d"));
	ASSERT_EQ(0, put_file(self->t.l[1], "d/f", "in d", 0644));
	both_metacopy = true;
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 2));

	BOTH(do_chmod, "big", 0600);
	BOTH(do_lchown, "big", 1234);
	BOTH(do_utimes, "big", 1200000000);
	BOTH(do_setxattr, "small", "user.new");
	BOTH(do_chmod, "wr", 0640);
	BOTH(do_utimes, "wr", 1300000000);
	BOTH(do_chmod, "d/f", 0444);
	expect_metacopy(_metadata, rw.uu, "big", BIG_SIZE);
	expect_metacopy(_metadata, rw.ou, "big", BIG_SIZE);
	expect_metacopy(_metadata, rw.uu, "small", 10);
	expect_metacopy(_metadata, rw.uu, "d/f", 4);
	expect_xattr(_metadata, pathf(p, "%s/small", rw.uu), "user.old", "old");
	expect_xattr(_metadata, pathf(p, "%s/small", rw.uu), "user.new", "v1");

	/* The union: the new metadata, the lower data and its blocks. */
	ASSERT_EQ(0, stat(pathf(p, "%s/big", self->t.u), &st));
	ASSERT_EQ(0, stat(pathf(q, "%s/big", self->t.l[1]), &lst));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(1234, st.st_uid);
	EXPECT_EQ(1235, st.st_gid);
	EXPECT_EQ(1200000001, st.st_mtim.tv_sec);
	EXPECT_EQ(BIG_SIZE, st.st_size);
	EXPECT_EQ(lst.st_blocks, st.st_blocks);
	lh = hash_of(self->t.l[1], "big", &size);
	h = hash_of(self->t.u, "big", &size);
	EXPECT_EQ(lh, h);
	EXPECT_EQ(BIG_SIZE, size);
	expect_xattr(_metadata, pathf(p, "%s/small", self->t.u), "user.new", "v1");
	ASSERT_EQ(0, read_file(pathf(p, "%s/d/f", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("in d", buf);
	free(same_tree(_metadata, &self->t));
	free(same_upper(_metadata, &rw));

	/* A metacopy survives a remount: it is found again with its lower data. */
	ASSERT_EQ(0, sys_umount(self->t.u));
	self->t.u_mounted = false;
	lower_opts(&self->t, 2, q);
	ASSERT_EQ(0, mount_one("unionfs", self->t.u, q, rw.uu, rw.uw));
	self->t.u_mounted = true;
	EXPECT_EQ(lh, hash_of(self->t.u, "big", &size));
	free(same_tree(_metadata, &self->t));

	/* Writes copy the data up first; the metadata stays. */
	BOTH(append, "big", "!");
	BOTH(do_truncate, "small", 3);
	BOTH(open_close, "wr", O_WRONLY);
	BOTH(append, "d/f", "+");
	expect_full_copy(_metadata, rw.uu, "big", BIG_SIZE);
	expect_full_copy(_metadata, rw.ou, "big", BIG_SIZE);
	expect_full_copy(_metadata, rw.uu, "wr", 1 << 20);
	EXPECT_EQ(-ENODATA, metacopy_len(rw.uu, "small"));
	ASSERT_EQ(0, stat(pathf(p, "%s/big", self->t.u), &st));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(1234, st.st_uid);
	EXPECT_EQ(BIG_SIZE + 1, st.st_size);
	ASSERT_EQ(0, stat(pathf(p, "%s/wr", self->t.u), &st));
	EXPECT_EQ(1300000001, st.st_mtim.tv_sec);
	EXPECT_EQ(hash_of(self->t.l[1], "wr", &size), hash_of(self->t.u, "wr", &size));
	ASSERT_EQ(0, read_file(pathf(p, "%s/small", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("sma", buf);
	ASSERT_EQ(0, read_file(pathf(p, "%s/d/f", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("in d+", buf);
	ASSERT_EQ(0, read_file(pathf(p, "%s/small", self->t.l[1]), buf, sizeof(buf)));
	EXPECT_STREQ("small data", buf);
	EXPECT_EQ(lh, hash_of(self->t.l[1], "big", &size));
	free(same_tree(_metadata, &self->t));
	free(same_upper(_metadata, &rw));
	EXPECT_EQ(0, rmdir(pathf(p, "%s/work", rw.uw)));
}

/* metacopy=off copies the data on chmod, as overlayfs does by default. */
TEST_F(union_fs, metacopy_off)
{
	char p[PATH_LEN], opts[4 * PATH_LEN];
	struct rw rw;
	off_t size;

	ASSERT_EQ(0, put_big(self->t.l[0], "big", 1 << 20));
	ASSERT_EQ(0, put_big(self->t.l[0], "meta", 1 << 20));
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 1));
	BOTH(do_chmod, "big", 0600);
	expect_full_copy(_metadata, rw.uu, "big", 1 << 20);
	expect_full_copy(_metadata, rw.ou, "big", 1 << 20);
	EXPECT_EQ(hash_of(self->t.l[0], "big", &size), hash_of(rw.uu, "big", &size));
	free(same_tree(_metadata, &self->t));
	free(same_upper(_metadata, &rw));
	ASSERT_EQ(0, unmount_both(&self->t));

	/* Bad values fail alike. */
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s,metacopy=yes",
		 self->t.l[0], rw.uu, rw.uw);
	EXPECT_EQ(-EINVAL, sys_mount("unionfs", self->t.u, "unionfs", 0, opts));
	EXPECT_EQ(-EINVAL, sys_mount("overlay", self->t.o, "overlay", 0, opts));

	/* A metacopy file made with metacopy=on is refused with metacopy=off, as overlayfs does. */
	both_metacopy = true;
	ASSERT_EQ(0, mount_one("unionfs", self->t.u, pathf(p, "lowerdir=%s", self->t.l[0]),
			       rw.uu, rw.uw));
	ASSERT_EQ(0, chmod(pathf(opts, "%s/meta", self->t.u), 0600));
	ASSERT_EQ(0, sys_umount(self->t.u));
	expect_metacopy(_metadata, rw.uu, "meta", 1 << 20);
	both_metacopy = false;
	ASSERT_EQ(0, mount_one("unionfs", self->t.u, p, rw.uu, rw.uw));
	self->t.u_mounted = true;
	ASSERT_EQ(0, mount_one("overlay", self->t.o, p, rw.uu, rw.ow));
	self->t.o_mounted = true;
	EXPECT_EQ(-1, access(pathf(opts, "%s/meta", self->t.u), F_OK));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, access(pathf(opts, "%s/meta", self->t.o), F_OK));
	EXPECT_EQ(EPERM, errno);
}

/* Metadata changes through the union mounted at m. */
static void meta_sequence(struct __test_metadata *_metadata, const char *m)
{
	char p[PATH_LEN];

	ASSERT_EQ(0, chmod(pathf(p, "%s/big", m), 0604));
	ASSERT_EQ(0, lchown(pathf(p, "%s/d/sub/f", m), 5, 6));
	ASSERT_EQ(0, do_utimes(pathf(p, "%s/top", m), 1250000000));
	ASSERT_EQ(0, setxattr(pathf(p, "%s/d/sub/g", m), "user.meta", "m", 1, 0));
	ASSERT_EQ(0, removexattr(pathf(p, "%s/d/sub/f", m), "user.x"));
}

/*
 * Metacopy files written by unionfs read the same through overlayfs with
 * metacopy=on, and the reverse.
 */
TEST_F(union_fs, metacopy_interchange)
{
	char lower[PATH_LEN], p[PATH_LEN], *a, *b, *c, *d;
	static const char * const meta[] = { "big", "d/sub/f", "d/sub/g", "top" };
	struct rw rw;
	off_t size;
	int i;

	put_rich_tree(_metadata, self->t.l[1]);
	ASSERT_EQ(0, put_big(self->t.l[1], "big", BIG_SIZE));
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	both_metacopy = true;
	lower_opts(&self->t, 2, lower);
	rw_dirs(_metadata, &self->t, &rw, 2);

	/* Written by unionfs, read by overlayfs. */
	ASSERT_EQ(0, mount_one("unionfs", self->t.u, lower, rw.uu, rw.uw));
	meta_sequence(_metadata, self->t.u);
	a = describe_union(_metadata, self->t.u);
	ASSERT_EQ(0, sys_umount(self->t.u));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, metacopy_len(rw.uu, meta[i])) TH_LOG("%s", meta[i]);
	expect_metacopy(_metadata, rw.uu, "big", BIG_SIZE);
	ASSERT_EQ(0, mount_one("overlay", self->t.o, lower, rw.uu, rw.uw));
	b = describe_union(_metadata, self->t.o);
	EXPECT_STREQ(a, b);
	/* overlayfs copies the data of unionfs's metacopy file. */
	ASSERT_EQ(0, append(pathf(p, "%s/big", self->t.o), (uintptr_t)"o"));
	ASSERT_EQ(0, sys_umount(self->t.o));
	expect_full_copy(_metadata, rw.uu, "big", BIG_SIZE);

	/* Written by overlayfs, read by unionfs. */
	ASSERT_EQ(0, mount_one("overlay", self->t.o, lower, rw.ou, rw.ow));
	meta_sequence(_metadata, self->t.o);
	c = describe_union(_metadata, self->t.o);
	ASSERT_EQ(0, sys_umount(self->t.o));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, metacopy_len(rw.ou, meta[i])) TH_LOG("%s", meta[i]);
	ASSERT_EQ(0, mount_one("unionfs", self->t.u, lower, rw.ou, rw.ow));
	d = describe_union(_metadata, self->t.u);
	EXPECT_STREQ(c, d);
	/* unionfs copies the data of overlayfs's metacopy file. */
	ASSERT_EQ(0, append(pathf(p, "%s/big", self->t.u), (uintptr_t)"o"));
	ASSERT_EQ(0, sys_umount(self->t.u));
	expect_full_copy(_metadata, rw.ou, "big", BIG_SIZE);
	EXPECT_EQ(hash_of(rw.uu, "big", &size), hash_of(rw.ou, "big", &size));
	EXPECT_EQ(BIG_SIZE + 1, size);

	EXPECT_STREQ(a, c);
	EXPECT_NE(NULL, strstr(a, "/big mode=100604")) TH_LOG("%s", a);
	EXPECT_NE(NULL, strstr(a, "/d/sub/f mode=100640 uid=5 gid=6")) TH_LOG("%s", a);
	EXPECT_NE(NULL, strstr(a, "user.meta=m")) TH_LOG("%s", a);
	free(a);
	free(b);
	free(c);
	free(d);
}

/*
 * st_ino stays the lower file's through metadata and data copy-up when all
 * layers share a filesystem, as in overlayfs.
 */
TEST_F(union_fs, metacopy_st_ino)
{
	char p[PATH_LEN], lower[PATH_LEN];
	struct stat lst, su, so;
	struct rw rw;
	const char *u = self->t.u, *o = self->t.o;

	ASSERT_EQ(0, put_file(self->t.l[0], "f", "data", 0644));
	ASSERT_EQ(0, put_file(self->t.l[0], "g", "data", 0644));
	ASSERT_EQ(0, stat(pathf(p, "%s/f", self->t.l[0]), &lst));
	both_metacopy = true;
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 1));
	ASSERT_EQ(0, stat(pathf(p, "%s/f", u), &su));
	ASSERT_EQ(0, stat(pathf(p, "%s/f", o), &so));
	EXPECT_EQ(lst.st_ino, su.st_ino);
	EXPECT_EQ(lst.st_ino, so.st_ino);
	BOTH(do_chmod, "f", 0600);
	ASSERT_EQ(0, stat(pathf(p, "%s/f", u), &su));
	ASSERT_EQ(0, stat(pathf(p, "%s/f", o), &so));
	EXPECT_EQ(lst.st_ino, su.st_ino);
	EXPECT_EQ(lst.st_ino, so.st_ino);
	BOTH(append, "f", "+");
	ASSERT_EQ(0, stat(pathf(p, "%s/f", u), &su));
	ASSERT_EQ(0, stat(pathf(p, "%s/f", o), &so));
	EXPECT_EQ(lst.st_ino, su.st_ino);
	EXPECT_EQ(lst.st_ino, so.st_ino);
	EXPECT_EQ(5, su.st_size);

	/* A metacopy file keeps it across a remount. */
	BOTH(do_chmod, "g", 0600);
	ASSERT_EQ(0, sys_umount(u));
	self->t.u_mounted = false;
	ASSERT_EQ(0, mount_one("unionfs", u, lower_opts(&self->t, 1, lower), rw.uu, rw.uw));
	self->t.u_mounted = true;
	ASSERT_EQ(0, stat(pathf(p, "%s/g", u), &su));
	ASSERT_EQ(0, stat(pathf(p, "%s/g", self->t.l[0]), &lst));
	EXPECT_EQ(lst.st_ino, su.st_ino);
	EXPECT_EQ(S_IFREG | 0600, su.st_mode);
}

/* A rename or hard link of a metacopy file copies its data first. */
TEST_F(union_fs, metacopy_rename_link)
{
	char p[PATH_LEN], buf[64];
	struct rw rw;
	off_t size;

	ASSERT_EQ(0, put_big(self->t.l[0], "a", 1 << 20));
	ASSERT_EQ(0, put_file(self->t.l[0], "c", "c data", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "dir"));
	both_metacopy = true;
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 1));
	BOTH(do_chmod, "a", 0600);
	BOTH(do_chmod, "c", 0600);
	expect_metacopy(_metadata, rw.uu, "a", 1 << 20);
	both2(_metadata, &self->t, "rename", "a", "dir/b", 0);
	both2(_metadata, &self->t, "link", "c", "d", 0);
	expect_full_copy(_metadata, rw.uu, "dir/b", 1 << 20);
	expect_full_copy(_metadata, rw.uu, "c", 6);
	EXPECT_EQ(hash_of(self->t.l[0], "a", &size), hash_of(self->t.u, "dir/b", &size));
	EXPECT_EQ(-1, access(pathf(p, "%s/a", self->t.u), F_OK));
	ASSERT_EQ(0, read_file(pathf(p, "%s/d", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("c data", buf);
	BOTH(append, "d", "+");
	ASSERT_EQ(0, read_file(pathf(p, "%s/c", self->t.u), buf, sizeof(buf)));
	EXPECT_STREQ("c data+", buf);
	free(same_tree(_metadata, &self->t));
}

/*
 * A data copy-up of a metacopy file that does not fit fails with ENOSPC and
 * leaves the file reading its lower data, still a metacopy.
 */
TEST_F(union_fs, metacopy_enospc)
{
	char up[PATH_LEN], p[PATH_LEN];
	struct rw rw;
	struct stat st;
	off_t size;
	uint64_t h;

	ASSERT_EQ(0, put_big(self->t.l[0], "big", 256 << 10));
	h = hash_of(self->t.l[0], "big", &size);
	pathf(up, "%s/tiny", self->t.base);
	ASSERT_EQ(0, mkdir(up, 0755));
	ASSERT_EQ(0, sys_mount("tmpfs", up, "tmpfs", 0, "size=64k"));
	snprintf(self->t.other, sizeof(self->t.other), "%s", up);
	both_metacopy = true;
	ASSERT_EQ(0, mount_rw_in(&self->t, &rw, 1, up));
	BOTH(do_chmod, "big", 0600);
	expect_metacopy(_metadata, rw.uu, "big", 256 << 10);
	BOTH(open_close, "big", O_WRONLY);
	EXPECT_EQ(-1, open(pathf(p, "%s/big", self->t.u), O_RDWR));
	EXPECT_EQ(ENOSPC, errno);
	expect_metacopy(_metadata, rw.uu, "big", 256 << 10);
	EXPECT_EQ(h, hash_of(self->t.u, "big", &size));
	EXPECT_EQ(256 << 10, size);
	ASSERT_EQ(0, stat(pathf(p, "%s/big", self->t.u), &st));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	free(same_tree(_metadata, &self->t));
	EXPECT_EQ(0, rmdir(pathf(p, "%s/work", rw.uw)));
	EXPECT_EQ(0, unmount_both(&self->t));
}

/*
 * Metacopy files that overlayfs renamed, with a relative and an absolute
 * trusted.overlay.redirect, read their lower data through unionfs.
 */
TEST_F(union_fs, metacopy_redirect)
{
	char lower[PATH_LEN], p[PATH_LEN], q[PATH_LEN], buf[64], *c, *d;
	struct rw rw;
	off_t size;

	ASSERT_EQ(0, put_big(self->t.l[1], "a", 1 << 20));
	ASSERT_EQ(0, put_file(self->t.l[1], "c", "c data", 0644));
	ASSERT_EQ(0, put_dir(self->t.l[0], "d"));
	both_metacopy = true;
	lower_opts(&self->t, 2, lower);
	ASSERT_EQ(0, mount_rw(&self->t, &rw, 2));
	ASSERT_EQ(0, sys_umount(self->t.u));
	self->t.u_mounted = false;
	ASSERT_EQ(0, chmod(pathf(p, "%s/a", self->t.o), 0600));
	ASSERT_EQ(0, rename(p, pathf(q, "%s/b", self->t.o)));
	ASSERT_EQ(0, rename(pathf(p, "%s/c", self->t.o), pathf(q, "%s/d/c2", self->t.o)));
	c = describe_union(_metadata, self->t.o);
	ASSERT_EQ(0, sys_umount(self->t.o));
	self->t.o_mounted = false;
	EXPECT_EQ(0, metacopy_len(rw.ou, "b"));
	EXPECT_EQ(0, metacopy_len(rw.ou, "d/c2"));
	EXPECT_EQ(1, getxattr(pathf(p, "%s/b", rw.ou), "trusted.overlay.redirect", buf,
			      sizeof(buf)));
	EXPECT_EQ(2, getxattr(pathf(p, "%s/d/c2", rw.ou), "trusted.overlay.redirect", buf,
			      sizeof(buf)));

	ASSERT_EQ(0, mount_one("unionfs", self->t.u, lower, rw.ou, rw.ow));
	self->t.u_mounted = true;
	d = describe_union(_metadata, self->t.u);
	EXPECT_STREQ(c, d);
	EXPECT_EQ(hash_of(self->t.l[1], "a", &size), hash_of(self->t.u, "b", &size));
	EXPECT_EQ(1 << 20, size);
	ASSERT_EQ(0, append(pathf(p, "%s/d/c2", self->t.u), (uintptr_t)"+"));
	ASSERT_EQ(0, read_file(p, buf, sizeof(buf)));
	EXPECT_STREQ("c data+", buf);
	expect_full_copy(_metadata, rw.ou, "d/c2", 7);
	free(c);
	free(d);
}

TEST_HARNESS_MAIN
