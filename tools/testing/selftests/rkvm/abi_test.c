// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's ioctl interface as small clients use it: the API version, capabilities,
 * VMs, memory slots and vCPUs, with KVM's error codes for bad input.
 *
 * The device comes from $KVM_DEVICE (default /dev/rkvm). The same program runs
 * against rkvm and against stock KVM, which serves as the reference: both must
 * pass every test.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "../kselftest_harness.h"

static const char *device(void)
{
	const char *path = getenv("KVM_DEVICE");

	return path ? path : "/dev/rkvm";
}

/* Whether rkvm serves the device: as /dev/rkvm, or as /dev/kvm with compat=1. */
static bool served_by_rkvm(void)
{
	char compat = 'N';
	int fd;

	if (!strcmp(device(), "/dev/rkvm"))
		return true;
	fd = open("/sys/module/rkvm/parameters/compat", O_RDONLY);
	if (fd < 0)
		return false;
	if (read(fd, &compat, 1) != 1)
		compat = 'N';
	close(fd);
	return compat == 'Y' && !strcmp(device(), "/dev/kvm");
}

static int open_device(struct __test_metadata *_metadata)
{
	int fd = open(device(), O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		SKIP(return -1, "%s missing", device());
	ASSERT_LE(0, fd);
	return fd;
}

static int set_region(int vm, uint32_t slot, uint64_t gpa, uint64_t size, void *mem)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)mem,
	};

	return ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region);
}

/* ioctl() that must fail with `err`. */
#define EXPECT_ERRNO(err, call) do {		\
	errno = 0;				\
	EXPECT_EQ(-1, (call));			\
	EXPECT_EQ(err, errno);			\
} while (0)

FIXTURE(device) {
	int dev;
};

FIXTURE_SETUP(device)
{
	self->dev = open_device(_metadata);
}

FIXTURE_TEARDOWN(device)
{
	if (self->dev >= 0)
		close(self->dev);
}

TEST_F(device, api_version)
{
	EXPECT_EQ(KVM_API_VERSION, ioctl(self->dev, KVM_GET_API_VERSION, 0));
	EXPECT_ERRNO(EINVAL, ioctl(self->dev, KVM_GET_API_VERSION, 1));
}

TEST_F(device, check_extension)
{
	EXPECT_EQ(1, ioctl(self->dev, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	EXPECT_EQ(1, ioctl(self->dev, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR));
	EXPECT_LE(1, ioctl(self->dev, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS));
	EXPECT_LE(1, ioctl(self->dev, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS));
	EXPECT_EQ(0, ioctl(self->dev, KVM_CHECK_EXTENSION, 0x7fffffff));
	EXPECT_EQ(0, ioctl(self->dev, KVM_CHECK_EXTENSION, -1L));
}

TEST_F(device, vcpu_mmap_size)
{
	long size = ioctl(self->dev, KVM_GET_VCPU_MMAP_SIZE, 0);

	/* kvm_run, then the page of port I/O data; KVM adds a third. */
	EXPECT_LE(2 * getpagesize(), size);
	EXPECT_EQ(0, size % getpagesize());
	EXPECT_ERRNO(EINVAL, ioctl(self->dev, KVM_GET_VCPU_MMAP_SIZE, 1));
}

TEST_F(device, create_vm)
{
	int vm = ioctl(self->dev, KVM_CREATE_VM, 0);

	ASSERT_LE(0, vm);
	EXPECT_EQ(FD_CLOEXEC, fcntl(vm, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(1, ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	close(vm);
	EXPECT_ERRNO(EINVAL, ioctl(self->dev, KVM_CREATE_VM, 0xdead));
}

TEST_F(device, unknown_and_misdirected_ioctls)
{
	struct kvm_regs regs;
	int vm, vcpu;

	/* KVM's answer differs per file: EINVAL, ENOTTY, EINVAL. */
	EXPECT_ERRNO(EINVAL, ioctl(self->dev, _IO(KVMIO, 0xff)));
	EXPECT_ERRNO(EINVAL, ioctl(self->dev, KVM_CREATE_VCPU, 0));
	EXPECT_ERRNO(EINVAL, ioctl(self->dev, KVM_GET_REGS, &regs));

	vm = ioctl(self->dev, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm);
	EXPECT_ERRNO(ENOTTY, ioctl(vm, _IO(KVMIO, 0xff)));
	EXPECT_ERRNO(ENOTTY, ioctl(vm, KVM_GET_REGS, &regs));
	EXPECT_ERRNO(ENOTTY, ioctl(vm, KVM_CREATE_VM, 0));

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	ASSERT_LE(0, vcpu);
	EXPECT_ERRNO(EINVAL, ioctl(vcpu, _IO(KVMIO, 0xff)));
	EXPECT_ERRNO(EINVAL, ioctl(vcpu, KVM_CREATE_VCPU, 1));
	close(vcpu);
	close(vm);
}

FIXTURE(vm) {
	int dev, vm;
	long page;
	char *mem;
};

FIXTURE_SETUP(vm)
{
	self->vm = -1;
	self->mem = MAP_FAILED;
	self->dev = open_device(_metadata);
	self->vm = ioctl(self->dev, KVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm);
	self->page = getpagesize();
	self->mem = mmap(NULL, 16 * self->page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
}

FIXTURE_TEARDOWN(vm)
{
	if (self->mem != MAP_FAILED)
		munmap(self->mem, 16 * self->page);
	if (self->vm >= 0)
		close(self->vm);
	if (self->dev >= 0)
		close(self->dev);
}

TEST_F(vm, memslot_create_move_delete)
{
	long p = self->page;

	ASSERT_EQ(0, set_region(self->vm, 0, 0, 4 * p, self->mem));
	ASSERT_EQ(0, set_region(self->vm, 1, 0x100000, 4 * p, self->mem + 4 * p));
	/* The same region again changes nothing. */
	EXPECT_EQ(0, set_region(self->vm, 0, 0, 4 * p, self->mem));
	/* A slot may move in guest memory... */
	EXPECT_EQ(0, set_region(self->vm, 0, 0x200000, 4 * p, self->mem));
	/* ...but not onto another slot, */
	EXPECT_ERRNO(EEXIST, set_region(self->vm, 0, 0x100000 + 2 * p, 4 * p, self->mem));
	/* nor change size or backing. */
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 0x200000, 8 * p, self->mem));
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 0x200000, 4 * p, self->mem + p));
	/* Size 0 deletes; the range is then free for another slot. */
	EXPECT_EQ(0, set_region(self->vm, 1, 0, 0, NULL));
	EXPECT_EQ(0, set_region(self->vm, 2, 0x100000, 4 * p, self->mem + 8 * p));
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 1, 0, 0, NULL));
}

TEST_F(vm, memslot_overlaps)
{
	long p = self->page;

	ASSERT_EQ(0, set_region(self->vm, 0, 0x10000, 4 * p, self->mem));
	EXPECT_ERRNO(EEXIST, set_region(self->vm, 1, 0x10000, p, self->mem + 4 * p));
	EXPECT_ERRNO(EEXIST, set_region(self->vm, 1, 0x10000 + 3 * p, 4 * p, self->mem + 4 * p));
	EXPECT_ERRNO(EEXIST, set_region(self->vm, 1, 0x10000 - p, 2 * p, self->mem + 4 * p));
	/* Touching is not overlapping. */
	EXPECT_EQ(0, set_region(self->vm, 1, 0x10000 + 4 * p, p, self->mem + 4 * p));
	EXPECT_EQ(0, set_region(self->vm, 2, 0x10000 - p, p, self->mem + 5 * p));
}

TEST_F(vm, memslot_bad_regions)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = 4096, .userspace_addr = (uintptr_t)self->mem,
	};
	long p = self->page;

	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 0, p + 1, self->mem));
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 1, p, self->mem));
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 0, p, self->mem + 1));
	/* Past the end of guest physical addresses. */
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, -p, 2 * p, self->mem));
	/* More pages than a slot may hold, and ranges outside user memory. */
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 0, 1ULL << 44, self->mem));
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 0, p, (void *)-4096L));
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 0, 1ULL << 47, self->mem));
	/* Slot ids beyond every implementation's limit, and other address spaces. */
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0x7fff, 0, p, self->mem));
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 5 << 16, 0, p, self->mem));
	/* Unknown flags. */
	region.flags = 1u << 20;
	EXPECT_ERRNO(EINVAL, ioctl(self->vm, KVM_SET_USER_MEMORY_REGION, &region));
	/* A region is read through a user pointer. */
	EXPECT_ERRNO(EFAULT, ioctl(self->vm, KVM_SET_USER_MEMORY_REGION, NULL));
	/* Nothing was created by any of the above. */
	EXPECT_ERRNO(EINVAL, set_region(self->vm, 0, 0, 0, NULL));
}

TEST_F(vm, memslot_backing_is_not_checked_up_front)
{
	long p = self->page;

	/* Like KVM, accept memory that is not mapped (yet). */
	ASSERT_EQ(0, munmap(self->mem + 8 * p, 8 * p));
	EXPECT_EQ(0, set_region(self->vm, 0, 0, 8 * p, self->mem + 8 * p));
	self->mem = mmap(self->mem + 8 * p, 8 * p, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->mem -= 8 * p;
}

TEST_F(vm, set_tss_addr)
{
	EXPECT_EQ(0, ioctl(self->vm, KVM_SET_TSS_ADDR, 0xfffbd000));
	EXPECT_EQ(0, ioctl(self->vm, KVM_SET_TSS_ADDR, 0xffffd000));
	EXPECT_ERRNO(EINVAL, ioctl(self->vm, KVM_SET_TSS_ADDR, 0xffffe000));
}

TEST_F(vm, create_vcpu)
{
	int a, b;

	a = ioctl(self->vm, KVM_CREATE_VCPU, 0);
	ASSERT_LE(0, a);
	EXPECT_EQ(FD_CLOEXEC, fcntl(a, F_GETFD) & FD_CLOEXEC);
	EXPECT_ERRNO(EEXIST, ioctl(self->vm, KVM_CREATE_VCPU, 0));
	b = ioctl(self->vm, KVM_CREATE_VCPU, 3);
	ASSERT_LE(0, b);
	EXPECT_ERRNO(EINVAL, ioctl(self->vm, KVM_CREATE_VCPU, 1 << 20));
	EXPECT_ERRNO(EINVAL, ioctl(self->vm, KVM_CREATE_VCPU, -1L));
	/* An id stays taken after its vCPU's file is closed. */
	close(a);
	EXPECT_ERRNO(EEXIST, ioctl(self->vm, KVM_CREATE_VCPU, 0));
	close(b);
}

TEST_F(vm, vcpu_reset_state)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int vcpu = ioctl(self->vm, KVM_CREATE_VCPU, 0);

	ASSERT_LE(0, vcpu);
	ASSERT_EQ(0, ioctl(vcpu, KVM_GET_REGS, &regs));
	EXPECT_EQ(0xfff0, regs.rip);
	EXPECT_EQ(2, regs.rflags);
	EXPECT_EQ(0, regs.rax);
	EXPECT_EQ(0, regs.rsp);

	ASSERT_EQ(0, ioctl(vcpu, KVM_GET_SREGS, &sregs));
	EXPECT_EQ(0xf000, sregs.cs.selector);
	EXPECT_EQ(0xffff0000, sregs.cs.base);
	EXPECT_EQ(0xffff, sregs.cs.limit);
	EXPECT_EQ(0xa, sregs.cs.type);
	EXPECT_EQ(1, sregs.cs.present);
	EXPECT_EQ(1, sregs.cs.s);
	EXPECT_EQ(0, sregs.ds.base);
	EXPECT_EQ(0xffff, sregs.ds.limit);
	EXPECT_EQ(3, sregs.ds.type);
	EXPECT_EQ(2, sregs.ss.type);
	EXPECT_EQ(3, sregs.tr.type);
	EXPECT_EQ(2, sregs.ldt.type);
	EXPECT_EQ(0xffff, sregs.gdt.limit);
	EXPECT_EQ(0xffff, sregs.idt.limit);
	EXPECT_EQ(0x60000010, sregs.cr0);
	EXPECT_EQ(0, sregs.cr3);
	EXPECT_EQ(0, sregs.cr4);
	EXPECT_EQ(0, sregs.efer);
	close(vcpu);
}

TEST_F(vm, vcpu_registers_round_trip)
{
	struct kvm_regs regs, out;
	struct kvm_sregs sregs, sout;
	int vcpu = ioctl(self->vm, KVM_CREATE_VCPU, 0);

	ASSERT_LE(0, vcpu);
	memset(&regs, 0, sizeof(regs));
	regs.rax = 0x1122334455667788ULL;
	regs.r15 = 15;
	regs.rip = 0x7c00;
	regs.rflags = 0x202;
	ASSERT_EQ(0, ioctl(vcpu, KVM_SET_REGS, &regs));
	ASSERT_EQ(0, ioctl(vcpu, KVM_GET_REGS, &out));
	EXPECT_EQ(0, memcmp(&regs, &out, sizeof(regs)));

	ASSERT_EQ(0, ioctl(vcpu, KVM_GET_SREGS, &sregs));
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	sregs.cr3 = 0x5000;
	ASSERT_EQ(0, ioctl(vcpu, KVM_SET_SREGS, &sregs));
	ASSERT_EQ(0, ioctl(vcpu, KVM_GET_SREGS, &sout));
	EXPECT_EQ(0, sout.cs.selector);
	EXPECT_EQ(0, sout.cs.base);
	EXPECT_EQ(0x5000, sout.cr3);

	EXPECT_ERRNO(EFAULT, ioctl(vcpu, KVM_GET_REGS, NULL));
	EXPECT_ERRNO(EFAULT, ioctl(vcpu, KVM_SET_SREGS, (void *)16));
	close(vcpu);
}

TEST_F(vm, vcpu_mmap)
{
	long size = ioctl(self->dev, KVM_GET_VCPU_MMAP_SIZE, 0);
	int vcpu = ioctl(self->vm, KVM_CREATE_VCPU, 0);
	struct kvm_run *run;

	ASSERT_LE(0, vcpu);
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	ASSERT_NE(MAP_FAILED, run);
	/* The shared page starts out blank where user space writes. */
	EXPECT_EQ(0, run->request_interrupt_window);
	run->request_interrupt_window = 1;
	EXPECT_EQ(1, run->request_interrupt_window);
	munmap(run, size);
	close(vcpu);
}

TEST_F(vm, vcpu_outlives_vm_file)
{
	struct kvm_regs regs;
	int vcpu = ioctl(self->vm, KVM_CREATE_VCPU, 0);

	ASSERT_LE(0, vcpu);
	close(self->vm);
	self->vm = -1;
	EXPECT_EQ(0, ioctl(vcpu, KVM_GET_REGS, &regs));
	close(vcpu);
}

TEST(create_and_destroy_many)
{
	int dev = open(device(), O_RDWR | O_CLOEXEC);
	long p = getpagesize();
	void *mem;
	int i;

	if (dev < 0 && errno == ENOENT)
		SKIP(return, "%s missing", device());
	ASSERT_LE(0, dev);
	mem = mmap(NULL, 4 * p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (i = 0; i < 1000; i++) {
		int vm = ioctl(dev, KVM_CREATE_VM, 0);
		int vcpu;

		ASSERT_LE(0, vm);
		ASSERT_EQ(0, set_region(vm, 0, 0, 4 * p, mem));
		vcpu = ioctl(vm, KVM_CREATE_VCPU, i % 4);
		ASSERT_LE(0, vcpu);
		/* Close in either order. */
		if (i % 2) {
			close(vcpu);
			close(vm);
		} else {
			close(vm);
			close(vcpu);
		}
	}
	munmap(mem, 4 * p);
	close(dev);
}

TEST(module_stays_loaded_while_open)
{
	int dev = open(device(), O_RDWR | O_CLOEXEC);
	int vm;

	if (!served_by_rkvm())
		SKIP(return, "only for rkvm");
	if (dev < 0 && errno == ENOENT)
		SKIP(return, "%s missing", device());
	ASSERT_LE(0, dev);
	vm = ioctl(dev, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm);
	/* The VM alone keeps the module, after the device file is closed. */
	close(dev);
	EXPECT_ERRNO(EWOULDBLOCK, syscall(__NR_delete_module, "rkvm", O_NONBLOCK));
	close(vm);
}

TEST_HARNESS_MAIN
