// SPDX-License-Identifier: GPL-2.0
/*
 * Tests the Rust misc device abstraction through samples/rust/rust_misc_device.rs:
 * per-open state, ioctl with user pointers, mmap, release and the error paths.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../kselftest_harness.h"

#define DEVICE "/dev/rust-misc-device"

/* Keep in sync with samples/rust/rust_misc_device.rs. */
#define RUST_MISC_DEVICE_GET_VALUE _IOR('|', 0x80, uint64_t)
#define RUST_MISC_DEVICE_SET_VALUE _IOW('|', 0x81, uint64_t)
#define RUST_MISC_DEVICE_OPEN_FILES _IO('|', 0x82)

FIXTURE(misc) {
	int fd;
	long page_size;
};

FIXTURE_SETUP(misc)
{
	self->page_size = sysconf(_SC_PAGESIZE);
	self->fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, DEVICE " missing: load rust_misc_device.ko");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(misc)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(misc, value_round_trip)
{
	uint64_t value = 0xdeadbeefcafef00dULL, out = 1;

	ASSERT_EQ(0, ioctl(self->fd, RUST_MISC_DEVICE_GET_VALUE, &out));
	EXPECT_EQ(0, out);
	ASSERT_EQ(0, ioctl(self->fd, RUST_MISC_DEVICE_SET_VALUE, &value));
	ASSERT_EQ(0, ioctl(self->fd, RUST_MISC_DEVICE_GET_VALUE, &out));
	EXPECT_EQ(value, out);
}

TEST_F(misc, value_is_per_open_file)
{
	uint64_t value = 42, out = 1;
	int other = open(DEVICE, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, other);
	ASSERT_EQ(0, ioctl(self->fd, RUST_MISC_DEVICE_SET_VALUE, &value));
	ASSERT_EQ(0, ioctl(other, RUST_MISC_DEVICE_GET_VALUE, &out));
	EXPECT_EQ(0, out);
	close(other);
}

TEST_F(misc, release_runs_on_last_close)
{
	long before = ioctl(self->fd, RUST_MISC_DEVICE_OPEN_FILES);
	int other = open(DEVICE, O_RDWR | O_CLOEXEC);
	int dup_fd;

	ASSERT_LE(1, before);
	ASSERT_LE(0, other);
	EXPECT_EQ(before + 1, ioctl(self->fd, RUST_MISC_DEVICE_OPEN_FILES));
	/* A duplicate shares the open file: no second open, no early release. */
	dup_fd = dup(other);
	ASSERT_LE(0, dup_fd);
	close(other);
	EXPECT_EQ(before + 1, ioctl(self->fd, RUST_MISC_DEVICE_OPEN_FILES));
	close(dup_fd);
	EXPECT_EQ(before, ioctl(self->fd, RUST_MISC_DEVICE_OPEN_FILES));
}

TEST_F(misc, unknown_ioctl_is_enotty)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO('|', 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IOR('x', 0x80, uint64_t), 0));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(misc, bad_user_pointer_is_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, RUST_MISC_DEVICE_GET_VALUE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, RUST_MISC_DEVICE_SET_VALUE, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* A kernel address is not a user pointer either. */
	EXPECT_EQ(-1, ioctl(self->fd, RUST_MISC_DEVICE_GET_VALUE, (void *)-4096L));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(misc, mmap_shares_the_open_files_page)
{
	char *a, *b, *other_map;
	int other = open(DEVICE, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, other);
	a = mmap(NULL, self->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(a != MAP_FAILED);
	b = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(b != MAP_FAILED);
	other_map = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, other, 0);
	ASSERT_TRUE(other_map != MAP_FAILED);

	EXPECT_EQ(0, a[0]);
	snprintf(a, self->page_size, "written through the first mapping");
	EXPECT_STREQ("written through the first mapping", b);
	/* Another open file has a page of its own, still zeroed. */
	EXPECT_EQ(0, other_map[0]);
	EXPECT_EQ(0, other_map[self->page_size - 1]);

	/* The page outlives the file: the mapping holds its own reference. */
	close(self->fd);
	self->fd = -1;
	EXPECT_STREQ("written through the first mapping", b);

	munmap(a, self->page_size);
	munmap(b, self->page_size);
	munmap(other_map, self->page_size);
	close(other);
}

TEST_F(misc, mmap_rejects_bad_ranges)
{
	void *p;

	p = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, self->fd, self->page_size);
	EXPECT_TRUE(p == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * self->page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_TRUE(p == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(misc, module_stays_loaded_while_open)
{
	/* The file operations name the module as owner: an open file pins it. */
	EXPECT_EQ(-1, syscall(__NR_delete_module, "rust_misc_device", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_LE(1, ioctl(self->fd, RUST_MISC_DEVICE_OPEN_FILES));
}

TEST(many_open_files_keep_their_own_values)
{
	enum { FILES = 64 };
	int fds[FILES];
	uint64_t value;
	int i;

	for (i = 0; i < FILES; i++) {
		fds[i] = open(DEVICE, O_RDWR | O_CLOEXEC);
		if (fds[i] < 0 && errno == ENOENT)
			SKIP(return, DEVICE " missing");
		ASSERT_LE(0, fds[i]);
		value = 1000 + i;
		ASSERT_EQ(0, ioctl(fds[i], RUST_MISC_DEVICE_SET_VALUE, &value));
	}
	for (i = 0; i < FILES; i++) {
		ASSERT_EQ(0, ioctl(fds[i], RUST_MISC_DEVICE_GET_VALUE, &value));
		EXPECT_EQ(1000 + i, value);
	}
	for (i = 0; i < FILES; i++)
		close(fds[i]);
}

TEST_HARNESS_MAIN
