/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal VMM over KVM's ioctl interface, for the rkvm selftests: one VM with
 * one memory slot, and vCPUs in it. The same code drives rkvm and stock KVM.
 */
#ifndef RKVM_SELFTEST_VMM_H
#define RKVM_SELFTEST_VMM_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

/* Guest physical memory of every test VM: 4 MiB at address 0. */
#define GUEST_MEM_SIZE (4UL << 20)

struct vm {
	int dev, fd;
	uint8_t *mem;
	size_t mem_size;
};

struct vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

static inline const char *kvm_device(void)
{
	const char *path = getenv("KVM_DEVICE");

	return path ? path : "/dev/rkvm";
}

/* Creates a VM with `size` bytes of zeroed memory at guest physical 0; 0 or -errno. */
static inline int vm_create(struct vm *vm, size_t size)
{
	struct kvm_userspace_memory_region region = { 0 };

	memset(vm, 0, sizeof(*vm));
	vm->dev = open(kvm_device(), O_RDWR | O_CLOEXEC);
	if (vm->dev < 0)
		return -errno;
	vm->fd = ioctl(vm->dev, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	vm->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		return -errno;
	vm->mem_size = size;
	region.memory_size = size;
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
		return -errno;
	return 0;
}

static inline void vm_destroy(struct vm *vm)
{
	if (vm->mem && vm->mem != MAP_FAILED)
		munmap(vm->mem, vm->mem_size);
	if (vm->fd > 0)
		close(vm->fd);
	if (vm->dev > 0)
		close(vm->dev);
}

static inline int vcpu_create(struct vm *vm, struct vcpu *vcpu, int id)
{
	int size = ioctl(vm->dev, KVM_GET_VCPU_MMAP_SIZE, 0);

	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0 || size <= 0)
		return -errno;
	vcpu->run_size = size;
	vcpu->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED)
		return -errno;
	return 0;
}

static inline void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run && vcpu->run != MAP_FAILED)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
}

/* KVM_RUN; 0 or -errno. */
static inline int vcpu_run(struct vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_RUN, 0) ? -errno : 0;
}

/* The data of the current port I/O exit. */
static inline uint8_t *vcpu_io_data(struct vcpu *vcpu)
{
	return (uint8_t *)vcpu->run + vcpu->run->io.data_offset;
}

/* Copies the guest payload between `start` and `end` to guest physical `gpa`. */
static inline void vm_load(struct vm *vm, uint64_t gpa, const void *start, const void *end)
{
	memcpy(vm->mem + gpa, start, (const char *)end - (const char *)start);
}

/* A flat segment: base 0, 4 GiB limit, present, DPL 0. */
static inline struct kvm_segment flat_segment(uint16_t selector, uint8_t type, int code64)
{
	struct kvm_segment s = {
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .db = !code64, .s = 1, .l = code64, .g = 1,
	};

	return s;
}

#define CR0_PE 0x00000001u
#define CR0_ET 0x00000010u
#define CR0_WP 0x00010000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x00000010u
#define CR4_PAE 0x00000020u
#define EFER_LME 0x00000100u
#define EFER_LMA 0x00000400u
#define EFER_NX 0x00000800u

/* Puts the vCPU in 32-bit protected mode with flat segments (and paging per cr0/cr4/cr3). */
static inline int vcpu_protected_mode(struct vcpu *vcpu, uint64_t cr0, uint64_t cr3,
				      uint64_t cr4, uint64_t efer, int code64)
{
	struct kvm_sregs sregs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs = flat_segment(0x8, 0xb, code64);
	sregs.ds = flat_segment(0x10, 0x3, 0);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.cr0 = cr0 | CR0_PE | CR0_ET;
	sregs.cr3 = cr3;
	sregs.cr4 = cr4;
	sregs.efer = efer;
	return ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) ? -errno : 0;
}

/* A GDT at 0x500 with the flat code (0x08) and data (0x10) segments of vcpu_protected_mode. */
static inline int vcpu_gdt(struct vm *vm, struct vcpu *vcpu)
{
	static const uint64_t gdt[] = { 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL };
	struct kvm_sregs sregs;

	memcpy(vm->mem + 0x500, gdt, sizeof(gdt));
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.gdt.base = 0x500;
	sregs.gdt.limit = sizeof(gdt) - 1;
	return ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) ? -errno : 0;
}

/* CPUID.80000001H:EDX: long mode, 1 GiB pages, no-execute. */
#define CPUID_LM 0x20000000u
#define CPUID_GBPAGES 0x04000000u
#define CPUID_NX 0x00100000u

/* Gives the vCPU a CPUID table with long mode, no-execute and 1 GiB pages (leaf 0x80000001). */
static inline int vcpu_cpuid_long_mode(struct vcpu *vcpu)
{
	struct {
		struct kvm_cpuid2 header;
		struct kvm_cpuid_entry2 entries[2];
	} cpuid = {
		.header.nent = 2,
		.entries = {
			{ .function = 0x80000000, .eax = 0x80000001 },
			{ .function = 0x80000001, .edx = CPUID_LM | CPUID_GBPAGES | CPUID_NX },
		},
	};

	return ioctl(vcpu->fd, KVM_SET_CPUID2, &cpuid) ? -errno : 0;
}

static inline int vcpu_set_entry(struct vcpu *vcpu, uint64_t rip, uint64_t rsp)
{
	struct kvm_regs regs = { .rip = rip, .rsp = rsp, .rflags = 2 };

	return ioctl(vcpu->fd, KVM_SET_REGS, &regs) ? -errno : 0;
}

#endif
