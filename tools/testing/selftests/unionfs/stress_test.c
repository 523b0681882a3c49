// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: on one union of three lower layers and an upper layer, processes
 * create, write, unlink and rename files, append to and chmod lower files
 * (copy-ups, often several at once of one file), and read (readdir, stat, read),
 * while another process changes every layer directly (creates, unlinks,
 * renames, whiteouts, directories), all for a fixed time. Lockdep, KASAN and
 * kmemleak watch the kernel. Afterwards every change the union's writers
 * completed must be there with the right contents, through the union, and
 * again through a fresh mount of the layers, the unions unmount and the work
 * directory is empty.
 *
 * The direct changes use names of their own ("z..."), in the directories
 * the union's writers use: what they may change in the union's view is
 * their own names, never the writers' data.
 *
 * UNIONFS_STRESS_SECONDS sets the time (default 20). Needs root and
 * unionfs.ko (and overlay.ko for the overlayfs run of the same load).
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "unionfs_util.h"

#define NDIRS 5		/* d0-d2 in every lower layer, d3 in l1 only, d4 in l2 only */
#define NLOWER 3
#define NCREATE 2	/* creators: create, write, unlink their own files */
#define NRENAME 2	/* renamers: rename their own new files and lower files */
#define NCOPY 2		/* copy-ups: append to shared lower files, chmod their own */
#define NREAD 2		/* readers: readdir, stat, read */
#define NWORKERS (NCREATE + NRENAME + NCOPY + NREAD + 1)
#define MAXF 8192	/* files per creator or renamer */
#define NAPPEND 6	/* lower files everybody appends to */
#define NFRESH 300	/* lower files each copy-up worker appends to once, in turn */
#define NCHMOD 8	/* lower files, each chmod-ed by one copy-up worker */
#define NX 20		/* lower files, each renamed by one renamer */
#define APPEND_MAX 4096	/* appends per worker and file */

/* What the workers completed, in memory shared with the parent. */
struct shared {
	int created[NCREATE];
	unsigned char cstate[NCREATE][MAXF];	/* 1 present, 2 unlinked */
	int rcreated[NRENAME];
	unsigned char rdir[NRENAME][MAXF], rprevdir[NRENAME][MAXF];
	unsigned short rgen[NRENAME][MAXF];
	unsigned char xdir[NX], xprevdir[NX];
	unsigned short xgen[NX];
	int appends[NCOPY][NAPPEND];
	int fresh[NCOPY];	/* f0 to f<fresh - 1> appended to */
	unsigned int chmod_mode[NCHMOD];
	/* Operations done and errors seen, by worker. */
	long ops[NWORKERS];
	long expected_errors[NWORKERS];	/* an errno the race allows, see below */
	int bad_errno[NWORKERS], bad_line[NWORKERS];	/* the first unexpected one */
	char bad_what[NWORKERS][96];
};

static bool time_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < end->tv_sec ||
	       (now.tv_sec == end->tv_sec && now.tv_nsec < end->tv_nsec);
}

static unsigned int next_rand(unsigned int *r)
{
	*r = *r * 1103515245 + 12345;
	return *r >> 8;
}

/*
 * A file's data is its base name and ':' repeated: any prefix of it can be
 * checked knowing the name alone.
 */
static void pattern(char *buf, size_t len, const char *base)
{
	size_t plen = strlen(base) + 1, i;

	for (i = 0; i < len; i++)
		buf[i] = i % plen == plen - 1 ? ':' : base[i % plen];
}

static bool is_pattern(const char *buf, size_t len, const char *base)
{
	size_t plen = strlen(base) + 1, i;

	for (i = 0; i < len; i++)
		if (buf[i] != (i % plen == plen - 1 ? ':' : base[i % plen]))
			return false;
	return true;
}

static int put_pattern(const char *path, const char *base, size_t len, mode_t mode)
{
	char buf[65536];
	int fd;

	if (len > sizeof(buf))
		return -EINVAL;
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, mode);
	if (fd < 0)
		return -errno;
	pattern(buf, len, base);
	if (write(fd, buf, len) != (ssize_t)len) {
		int err = errno ? -errno : -EIO;

		close(fd);
		return err;
	}
	return close(fd) ? -errno : 0;
}

/* The lengths of the files' data. */
static size_t create_len(int n)
{
	return 1 + (n * 37) % 3000;
}

static size_t rename_len(int n)
{
	return 50 + n % 500;
}

#define X_LEN 300
#define APPEND_LOWER_LEN 100

static size_t chmod_len(int k)
{
	return 4096 * (k + 1);
}

/* The layer and directory each lower file starts in. */
static int x_layer(int k)
{
	return k % NLOWER;
}

static int lower_dir(int k, int layer)
{
	/* d3 is only in l1, d4 only in l2. */
	int d = k % NDIRS;

	if (d == 3 && layer != 1)
		d = 0;
	if (d == 4 && layer != 2)
		d = 1;
	return d;
}

struct stress {
	char base[64];
	char l[NLOWER][PATH_LEN], uu[PATH_LEN], uw[PATH_LEN], mnt[PATH_LEN];
	struct shared *sh;
	struct timespec end;
	int worker;
};

/* Records an unexpected errno (the first one of each worker). */
static int bad(struct stress *s, int line, const char *what, const char *path, int err)
{
	int w = s->worker;

	if (!s->sh->bad_errno[w]) {
		s->sh->bad_errno[w] = err ? err : -1;
		s->sh->bad_line[w] = line;
		snprintf(s->sh->bad_what[w], sizeof(s->sh->bad_what[w]), "%s %s", what,
			 path + strlen(s->mnt));
	}
	return 1;
}

#define BAD(what, path, err) bad(s, __LINE__, what, path, err)

/*
 * Errors a union operation may meet only because another process changed
 * the same names at the same time: none for the writers, which own their
 * names; ENOENT for readers (a listed name removed before its stat or open).
 */
static bool reader_expected(int err)
{
	return err == ENOENT;
}

static void creator(struct stress *s, int id)
{
	struct shared *sh = s->sh;
	unsigned int r = 1000 + id;
	char p[PATH_LEN], name[64];
	int n, victim, err;

	for (n = 0; n < MAXF && time_left(&s->end); n++) {
		snprintf(name, sizeof(name), "c%d_%d", id, n);
		pathf(p, "%s/d%d/%s", s->mnt, n % NDIRS, name);
		err = put_pattern(p, name, create_len(n), 0644);
		if (err) {
			BAD("create", p, -err);
			return;
		}
		sh->cstate[id][n] = 1;
		sh->created[id] = n + 1;
		sh->ops[s->worker]++;
		if (next_rand(&r) % 4 == 0) {
			victim = next_rand(&r) % (n + 1);
			if (sh->cstate[id][victim] != 1)
				continue;
			snprintf(name, sizeof(name), "c%d_%d", id, victim);
			if (unlink(pathf(p, "%s/d%d/%s", s->mnt, victim % NDIRS, name))) {
				BAD("unlink", p, errno);
				return;
			}
			sh->cstate[id][victim] = 2;
			sh->ops[s->worker]++;
		}
	}
}

/* The name of generation gen of a renamed file. */
static char *gen_name(char *buf, const char *base, int gen)
{
	if (gen)
		snprintf(buf, 64, "%.40s_g%d", base, gen);
	else
		snprintf(buf, 64, "%.40s", base);
	return buf;
}

/* Renames base from generation *gen in *dir to the next in a random directory. */
static int rename_next(struct stress *s, const char *base, unsigned char *dir,
		       unsigned char *prevdir, unsigned short *gen, unsigned int *r)
{
	char p[PATH_LEN], q[PATH_LEN], from[64], to[64];
	int nd = next_rand(r) % NDIRS;

	if (*gen == 65535)
		return 0;
	pathf(p, "%s/d%d/%s", s->mnt, *dir, gen_name(from, base, *gen));
	pathf(q, "%s/d%d/%s", s->mnt, nd, gen_name(to, base, *gen + 1));
	if (rename(p, q))
		return BAD("rename", p, errno);
	*prevdir = *dir;
	*dir = nd;
	(*gen)++;
	s->sh->ops[s->worker]++;
	return 0;
}

static void renamer(struct stress *s, int id)
{
	struct shared *sh = s->sh;
	unsigned int r = 2000 + id;
	char p[PATH_LEN], base[64];
	int n = 0, k, err;

	while (time_left(&s->end)) {
		switch (next_rand(&r) % 3) {
		case 0:
			if (n == MAXF)
				break;
			snprintf(base, sizeof(base), "r%d_%d", id, n);
			sh->rdir[id][n] = next_rand(&r) % NDIRS;
			pathf(p, "%s/d%d/%s", s->mnt, sh->rdir[id][n], base);
			err = put_pattern(p, base, rename_len(n), 0644);
			if (err) {
				BAD("create", p, -err);
				return;
			}
			sh->rcreated[id] = ++n;
			sh->ops[s->worker]++;
			break;
		case 1:
			if (!n)
				break;
			k = next_rand(&r) % n;
			snprintf(base, sizeof(base), "r%d_%d", id, k);
			if (rename_next(s, base, &sh->rdir[id][k], &sh->rprevdir[id][k],
					&sh->rgen[id][k], &r))
				return;
			break;
		case 2:
			/* A lower file: copied up, its old name whited out. */
			k = (next_rand(&r) % (NX / NRENAME)) * NRENAME + id;
			snprintf(base, sizeof(base), "x%d", k);
			if (rename_next(s, base, &sh->xdir[k], &sh->xprevdir[k], &sh->xgen[k],
					&r))
				return;
			break;
		}
	}
}

/* Appends the record "w<id>.<seq>" to path; 0 or 1 (reported). */
static int append(struct stress *s, const char *path, int id, int seq)
{
	char rec[32];
	int fd, len;

	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		return BAD("open O_APPEND", path, errno);
	len = snprintf(rec, sizeof(rec), "w%d.%d\n", id, seq);
	if (write(fd, rec, len) != len) {
		BAD("write", path, errno);
		close(fd);
		return 1;
	}
	return close(fd) ? BAD("close", path, errno) : 0;
}

static void copier(struct stress *s, int id)
{
	static const unsigned int modes[] = { 0600, 0640, 0644, 0660, 0664, 0755, 0700 };
	struct shared *sh = s->sh;
	unsigned int r = 3000 + id, mode;
	char p[PATH_LEN];
	int k;

	while (time_left(&s->end)) {
		switch (next_rand(&r) % 3) {
		case 0:
			/* Everybody appends to the same few lower files. */
			k = next_rand(&r) % NAPPEND;
			if (sh->appends[id][k] == APPEND_MAX)
				continue;
			pathf(p, "%s/d%d/a%d", s->mnt, lower_dir(k, k % NLOWER), k);
			if (append(s, p, id, sh->appends[id][k]))
				return;
			sh->appends[id][k]++;
			break;
		case 1:
			/*
			 * All copy-up workers take the next lower file in turn: they
			 * often copy it up at the same time.
			 */
			k = sh->fresh[id];
			if (k == NFRESH)
				continue;
			pathf(p, "%s/d%d/f%d", s->mnt, lower_dir(k, k % NLOWER), k);
			if (append(s, p, id, 0))
				return;
			sh->fresh[id]++;
			break;
		case 2:
			/* Each chmod file has one owner, which knows its last mode. */
			k = (next_rand(&r) % (NCHMOD / NCOPY)) * NCOPY + id;
			mode = modes[next_rand(&r) % 7];
			pathf(p, "%s/d%d/m%d", s->mnt, lower_dir(k, k % NLOWER), k);
			if (chmod(p, mode)) {
				BAD("chmod", p, errno);
				return;
			}
			sh->chmod_mode[k] = mode;
			break;
		}
		sh->ops[s->worker]++;
	}
}

/* The base name of a file the writers know, or NULL. */
static const char *base_of(const char *name, char *buf)
{
	char *g;

	if (!strchr("crxm", name[0]))
		return NULL;
	snprintf(buf, 64, "%s", name);
	g = strstr(buf, "_g");
	if (g)
		*g = 0;
	return buf;
}

/* Reads a file of the union: what it holds must be a prefix of its data. */
static int read_check(struct stress *s, const char *path, const char *name)
{
	char buf[65536], base[64];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return reader_expected(errno) ? 0 : BAD("open", path, errno);
	n = read(fd, buf, strchr("af", name[0]) ? APPEND_LOWER_LEN : sizeof(buf));
	if (n < 0) {
		int err = errno;

		close(fd);
		return BAD("read", path, err);
	}
	close(fd);
	if (strchr("af", name[0])) {
		snprintf(base, sizeof(base), "%s", name);
		if (n != APPEND_LOWER_LEN || !is_pattern(buf, n, base))
			return BAD("data of", path, 0);
	} else if (base_of(name, base) && !is_pattern(buf, n, base)) {
		return BAD("data of", path, 0);
	}
	s->sh->ops[s->worker]++;
	return 0;
}

static void reader(struct stress *s, int id)
{
	char p[PATH_LEN], dir[PATH_LEN];
	struct dirent *e;
	struct stat st;
	int d = id;
	DIR *dp;

	while (time_left(&s->end)) {
		d = (d + 1) % NDIRS;
		dp = opendir(pathf(dir, "%s/d%d", s->mnt, d));
		if (!dp) {
			BAD("opendir", dir, errno);
			return;
		}
		while ((e = readdir(dp)) && time_left(&s->end)) {
			if (e->d_name[0] == '.')
				continue;
			if (lstat(pathf(p, "%s/%s", dir, e->d_name), &st)) {
				if (!reader_expected(errno)) {
					BAD("stat", p, errno);
					break;
				}
				s->sh->expected_errors[s->worker]++;
				continue;
			}
			if (e->d_type != DT_UNKNOWN && e->d_type != IFTODT(st.st_mode) &&
			    e->d_name[0] != 'z') {
				BAD("d_type of", p, 0);
				break;
			}
			if (S_ISREG(st.st_mode) && read_check(s, p, e->d_name))
				break;
		}
		closedir(dp);
		if (s->sh->bad_errno[s->worker])
			return;
	}
}

/* Direct changes to every layer, on names of their own, until the end. */
static void changer(struct stress *s)
{
	char p[PATH_LEN], q[PATH_LEN], layer[PATH_LEN], dir[PATH_LEN];
	unsigned int r = 4000;
	struct stat st;
	int fd;

	while (time_left(&s->end)) {
		int l = next_rand(&r) % (NLOWER + 1), n = next_rand(&r) % 8;

		snprintf(layer, sizeof(layer), "%s", l == NLOWER ? s->uu : s->l[l]);
		/* Only directories the layer has: the union makes the upper ones. */
		if (stat(pathf(dir, "%s/d%d", layer, next_rand(&r) % NDIRS), &st))
			continue;
		pathf(p, "%s/z%d", dir, n);
		switch (next_rand(&r) % 7) {
		case 0:
			fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd >= 0) {
				if (write(fd, "z", 1) != 1)
					s->sh->bad_errno[s->worker] = errno;
				close(fd);
			}
			break;
		case 1:
			unlink(p);
			break;
		case 2:
			rename(p, pathf(q, "%s/z%d", dir, next_rand(&r) % 8));
			break;
		case 3:
			mknod(p, S_IFCHR, makedev(0, 0));
			break;
		case 4:
			if (!mkdir(p, 0755)) {
				close(open(pathf(q, "%s/in", p), O_CREAT | O_WRONLY, 0644));
				unlink(q);
			}
			break;
		case 5:
			rmdir(p);
			break;
		case 6:
			/* Across directories of the layer. */
			rename(p, pathf(q, "%s/d%d/z%d", layer, next_rand(&r) % NDIRS,
					next_rand(&r) % 8));
			break;
		}
		s->sh->ops[s->worker]++;
	}
}

FIXTURE(stress) {
	struct stress s;
	bool mounted, base_mounted;
	long tainted;
};

FIXTURE_VARIANT(stress) {
	const char *type;
};

FIXTURE_VARIANT_ADD(stress, unionfs) {
	.type = "unionfs",
};

/* The same load on overlayfs, the reference for what the workers expect. */
FIXTURE_VARIANT_ADD(stress, overlayfs) {
	.type = "overlay",
};

static int mount_union(struct stress *s, const char *type)
{
	char opts[6 * PATH_LEN];

	snprintf(opts, sizeof(opts), "lowerdir=%s:%s:%s,upperdir=%s,workdir=%s",
		 s->l[0], s->l[1], s->l[2], s->uu, s->uw);
	return sys_mount(type, s->mnt, type, 0, opts);
}

FIXTURE_SETUP(stress)
{
	struct stress *s = &self->s;
	char p[PATH_LEN], name[64];
	int i, d, k;

	self->tainted = read_tainted();
	ASSERT_EQ(0, getuid()) TH_LOG("needs root");
	snprintf(s->base, sizeof(s->base), "/tmp/unionfs_stress.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(s->base));
	ASSERT_EQ(0, sys_mount("tmpfs", s->base, "tmpfs", 0, NULL));
	self->base_mounted = true;
	for (i = 0; i < NLOWER; i++) {
		pathf(s->l[i], "%s/l%d", s->base, i);
		ASSERT_EQ(0, mkdir(s->l[i], 0755));
		for (d = 0; d < NDIRS; d++)
			if (d < 3 || d - 2 == i)
				ASSERT_EQ(0, mkdir(pathf(p, "%s/d%d", s->l[i], d), 0755));
	}
	for (k = 0; k < NX; k++) {
		snprintf(name, sizeof(name), "x%d", k);
		pathf(p, "%s/d%d/%s", s->l[x_layer(k)], lower_dir(k, x_layer(k)), name);
		ASSERT_EQ(0, put_pattern(p, name, X_LEN, 0644));
	}
	for (k = 0; k < NAPPEND + NFRESH; k++) {
		int j = k < NAPPEND ? k : k - NAPPEND;

		snprintf(name, sizeof(name), "%c%d", k < NAPPEND ? 'a' : 'f', j);
		pathf(p, "%s/d%d/%s", s->l[j % NLOWER], lower_dir(j, j % NLOWER), name);
		ASSERT_EQ(0, put_pattern(p, name, APPEND_LOWER_LEN, 0644));
	}
	for (k = 0; k < NCHMOD; k++) {
		snprintf(name, sizeof(name), "m%d", k);
		pathf(p, "%s/d%d/%s", s->l[k % NLOWER], lower_dir(k, k % NLOWER), name);
		ASSERT_EQ(0, put_pattern(p, name, chmod_len(k), 0644));
	}
	pathf(s->uu, "%s/upper", s->base);
	pathf(s->uw, "%s/work", s->base);
	pathf(s->mnt, "%s/union", s->base);
	ASSERT_EQ(0, mkdir(s->uu, 0755));
	ASSERT_EQ(0, mkdir(s->uw, 0755));
	ASSERT_EQ(0, mkdir(s->mnt, 0755));
	s->sh = mmap(NULL, sizeof(*s->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	ASSERT_NE(MAP_FAILED, s->sh);
	for (k = 0; k < NX; k++)
		s->sh->xdir[k] = lower_dir(k, x_layer(k));
	for (k = 0; k < NCHMOD; k++)
		s->sh->chmod_mode[k] = 0644;
	ASSERT_EQ(0, mount_union(s, variant->type));
	self->mounted = true;
}

FIXTURE_TEARDOWN(stress)
{
	if (self->mounted)
		EXPECT_EQ(0, sys_umount(self->s.mnt));
	if (self->base_mounted)
		EXPECT_EQ(0, sys_umount(self->s.base));
	rmdir(self->s.base);
	EXPECT_EQ(self->tainted, read_tainted());
}

/* The number of entries of a directory besides . and .., or -errno. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Checks that path holds exactly len bytes of base's data; 0 or what is wrong. */
static int check_file(const char *path, const char *base, size_t len)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return 1;
	return is_pattern(buf, n, base) ? 0 : 2;
}

/*
 * Checks a file appended to: its lower data (of base), then counts[w] records
 * of each worker w, in order.
 */
static int check_appends(const char *path, const char *base, const int *counts)
{
	static char buf[NCOPY * APPEND_MAX * 16 + APPEND_LOWER_LEN + 1];
	int next[NCOPY] = {}, w, seq, i;
	char *line, *save;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < APPEND_LOWER_LEN)
		return 1;
	buf[n] = 0;
	if (!is_pattern(buf, APPEND_LOWER_LEN, base))
		return 2;
	for (line = strtok_r(buf + APPEND_LOWER_LEN, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "w%d.%d", &w, &seq) != 2 || w < 0 || w >= NCOPY ||
		    seq != next[w])
			return 3;
		next[w]++;
	}
	for (i = 0; i < NCOPY; i++)
		if (next[i] != counts[i])
			return 4;
	return 0;
}

/* Everything the writers completed, through the union at mnt; the number of files checked. */
static int verify(struct __test_metadata *_metadata, struct stress *s, const char *mnt)
{
	struct shared *sh = s->sh;
	char p[PATH_LEN], name[64], base[64];
	struct stat st;
	int id, n, k, checked = 0, counts[NCOPY];
	bool present;

	for (id = 0; id < NCREATE; id++) {
		for (n = 0; n < sh->created[id]; n++, checked++) {
			snprintf(name, sizeof(name), "c%d_%d", id, n);
			pathf(p, "%s/d%d/%s", mnt, n % NDIRS, name);
			present = sh->cstate[id][n] == 1;
			EXPECT_EQ(present ? 0 : -ENOENT,
				  check_file(p, name, present ? create_len(n) : 0)) TH_LOG("%s", p);
		}
	}
	for (id = 0; id < NRENAME; id++) {
		for (n = 0; n < sh->rcreated[id]; n++, checked++) {
			snprintf(base, sizeof(base), "r%d_%d", id, n);
			pathf(p, "%s/d%d/%s", mnt, sh->rdir[id][n],
			      gen_name(name, base, sh->rgen[id][n]));
			EXPECT_EQ(0, check_file(p, base, rename_len(n))) TH_LOG("%s", p);
			if (!sh->rgen[id][n])
				continue;
			pathf(p, "%s/d%d/%s", mnt, sh->rprevdir[id][n],
			      gen_name(name, base, sh->rgen[id][n] - 1));
			EXPECT_EQ(-1, lstat(p, &st)) TH_LOG("%s still there", p);
		}
	}
	for (k = 0; k < NX; k++, checked++) {
		snprintf(base, sizeof(base), "x%d", k);
		pathf(p, "%s/d%d/%s", mnt, sh->xdir[k], gen_name(name, base, sh->xgen[k]));
		EXPECT_EQ(0, check_file(p, base, X_LEN)) TH_LOG("%s", p);
		if (!sh->xgen[k])
			continue;
		pathf(p, "%s/d%d/%s", mnt, sh->xprevdir[k], gen_name(name, base, sh->xgen[k] - 1));
		EXPECT_EQ(-1, lstat(p, &st)) TH_LOG("%s still there", p);
	}
	for (k = 0; k < NAPPEND; k++, checked++) {
		for (id = 0; id < NCOPY; id++)
			counts[id] = sh->appends[id][k];
		snprintf(name, sizeof(name), "a%d", k);
		pathf(p, "%s/d%d/%s", mnt, lower_dir(k, k % NLOWER), name);
		EXPECT_EQ(0, check_appends(p, name, counts)) TH_LOG("%s", p);
	}
	for (k = 0; k < NFRESH; k++, checked++) {
		for (id = 0; id < NCOPY; id++)
			counts[id] = k < sh->fresh[id];
		snprintf(name, sizeof(name), "f%d", k);
		pathf(p, "%s/d%d/%s", mnt, lower_dir(k, k % NLOWER), name);
		EXPECT_EQ(0, check_appends(p, name, counts)) TH_LOG("%s", p);
	}
	for (k = 0; k < NCHMOD; k++, checked++) {
		snprintf(name, sizeof(name), "m%d", k);
		pathf(p, "%s/d%d/%s", mnt, lower_dir(k, k % NLOWER), name);
		EXPECT_EQ(0, check_file(p, name, chmod_len(k))) TH_LOG("%s", p);
		EXPECT_EQ(0, lstat(p, &st));
		EXPECT_EQ(sh->chmod_mode[k], st.st_mode & 07777) TH_LOG("%s", p);
	}
	return checked;
}

TEST_F_TIMEOUT(stress, load, 600)
{
	struct stress *s = &self->s;
	const char *env = getenv("UNIONFS_STRESS_SECONDS");
	int seconds = env ? atoi(env) : 20;
	pid_t pids[NWORKERS];
	long ops = 0, expected = 0;
	int i, status, checked;
	char p[PATH_LEN];

	clock_gettime(CLOCK_MONOTONIC, &s->end);
	s->end.tv_sec += seconds;
	for (i = 0; i < NWORKERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i])
			continue;
		s->worker = i;
		if (i < NCREATE)
			creator(s, i);
		else if (i < NCREATE + NRENAME)
			renamer(s, i - NCREATE);
		else if (i < NCREATE + NRENAME + NCOPY)
			copier(s, i - NCREATE - NRENAME);
		else if (i < NWORKERS - 1)
			reader(s, i - NCREATE - NRENAME - NCOPY);
		else
			changer(s);
		_exit(0);
	}
	for (i = 0; i < NWORKERS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) TH_LOG("worker %d", i);
		EXPECT_EQ(0, s->sh->bad_errno[i])
			TH_LOG("worker %d: %s: errno %d (line %d)", i, s->sh->bad_what[i],
			       s->sh->bad_errno[i], s->sh->bad_line[i]);
		ops += s->sh->ops[i];
		expected += s->sh->expected_errors[i];
	}
	checked = verify(_metadata, s, s->mnt);
	TH_LOG("%s, %d s: %ld operations, %ld ENOENT (listed, then gone), %d files checked",
	       variant->type, seconds, ops, expected, checked);
	EXPECT_LT(100, ops);

	/* What the layers now hold, through a fresh mount. */
	ASSERT_EQ(0, sys_umount(s->mnt));
	self->mounted = false;
	ASSERT_EQ(0, mount_union(s, variant->type));
	self->mounted = true;
	verify(_metadata, s, s->mnt);
	ASSERT_EQ(0, sys_umount(s->mnt));
	self->mounted = false;
	/* Nothing was left in the work directory. */
	EXPECT_EQ(0, count_entries(pathf(p, "%s/work", s->uw)));
}

TEST_HARNESS_MAIN
