// SPDX-License-Identifier: GPL-2.0
/*
 * Guests running through KVM_RUN: every guest mode, port and MMIO exits, a
 * guest editing its own page tables, a guest handling its own page fault,
 * triple faults, and signals. The device comes from $KVM_DEVICE (default
 * /dev/rkvm); the same program runs against stock KVM (kvm_amd npt=0), the
 * reference: every exit, register and byte of memory checked here is what
 * KVM gives.
 */

#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "guest.h"
#include "vmm.h"

#define LOAD(vm, gpa, name) vm_load(vm, gpa, guest_##name##_start, guest_##name##_end)

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_A 0x20
#define PTE_D 0x40
#define PTE_PS 0x80

/* What a guest did through its exits. */
struct trace {
	char text[64];		/* bytes written to port 0x3f8 */
	uint32_t values[16];	/* values written to ports 0x80 and 0x84 */
	int nvalues;
	char exits[1024];	/* one word per exit */
	uint8_t next_in;	/* the next byte port 0x62 returns */
};

static void note(struct trace *t, const char *fmt, ...)
{
	size_t len = strlen(t->exits);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->exits + len, sizeof(t->exits) - len, fmt, ap);
	va_end(ap);
}

static void port_io(struct vcpu *vcpu, struct trace *t)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = vcpu_io_data(vcpu);
	uint32_t i, value;

	note(t, "%c%x:%u*%u ", run->io.direction == KVM_EXIT_IO_OUT ? 'o' : 'i',
	     run->io.port, run->io.size, run->io.count);
	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_IN) {
			memset(data, 0, run->io.size);
			data[0] = run->io.port == 0x61 ? 0x5a : ++t->next_in;
			continue;
		}
		value = 0;
		memcpy(&value, data, run->io.size);
		if (run->io.port == 0x3f8 && strlen(t->text) < sizeof(t->text) - 1)
			t->text[strlen(t->text)] = value;
		else if (t->nvalues < 16)
			t->values[t->nvalues++] = value;
	}
}

static void mmio(struct vcpu *vcpu, struct trace *t)
{
	struct kvm_run *run = vcpu->run;
	uint32_t i, value = 0;

	note(t, "m%c%llx:%u ", run->mmio.is_write ? 'w' : 'r',
	     (unsigned long long)run->mmio.phys_addr, run->mmio.len);
	if (run->mmio.is_write) {
		memcpy(&value, run->mmio.data, run->mmio.len < 4 ? run->mmio.len : 4);
		t->values[t->nvalues++] = value;
		return;
	}
	for (i = 0; i < 8; i++)
		run->mmio.data[i] = 0x80 + i;
}

/* Runs the vCPU until an exit other than port I/O and MMIO; returns its reason. */
static int run_guest(struct vcpu *vcpu, struct trace *t)
{
	for (;;) {
		int ret = vcpu_run(vcpu);

		if (ret)
			return ret;
		switch (vcpu->run->exit_reason) {
		case KVM_EXIT_IO:
			port_io(vcpu, t);
			break;
		case KVM_EXIT_MMIO:
			mmio(vcpu, t);
			break;
		default:
			return vcpu->run->exit_reason;
		}
	}
}

static uint32_t *word32(struct vm *vm, uint64_t gpa)
{
	return (uint32_t *)(vm->mem + gpa);
}

static uint64_t *word64(struct vm *vm, uint64_t gpa)
{
	return (uint64_t *)(vm->mem + gpa);
}

FIXTURE(guest) {
	struct vm vm;
	struct vcpu vcpu;
	struct trace trace;
	struct kvm_regs regs;
};

FIXTURE_SETUP(guest)
{
	int ret = vm_create(&self->vm, GUEST_MEM_SIZE);

	if (ret == -ENOENT)
		SKIP(return, "%s missing", kvm_device());
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, vcpu_create(&self->vm, &self->vcpu, 0));
	memset(&self->trace, 0, sizeof(self->trace));
}

FIXTURE_TEARDOWN(guest)
{
	vcpu_destroy(&self->vcpu);
	vm_destroy(&self->vm);
}

static void get_regs(struct __test_metadata *_metadata, struct vcpu *vcpu, struct kvm_regs *regs)
{
	ASSERT_EQ(0, ioctl(vcpu->fd, KVM_GET_REGS, regs));
}

/* The exits of the real mode payload. */
static const char *expected_real_exits(void)
{
	static char exits[256];
	int i;

	exits[0] = 0;
	for (i = 0; i < 5; i++)
		strcat(exits, "o3f8:1*1 ");
	strcat(exits, "i61:1*1 o80:1*1 ");
	for (i = 0; i < 5; i++)
		strcat(exits, "o3f8:1*1 ");
	strcat(exits, "i62:1*4 o84:4*1 ");
	return exits;
}

/* Real mode: text out, IN, REP OUTSB, REP INSB, a 32-bit OUT. */
TEST_F(guest, real_mode)
{
	struct kvm_sregs sregs;
	uint32_t hlt;

	LOAD(&self->vm, 0x1000, real);
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_GET_SREGS, &sregs));
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_SREGS, &sregs));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x1000, 0));
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
	EXPECT_STREQ("helloworld", self->trace.text);
	ASSERT_EQ(2, self->trace.nvalues);
	EXPECT_EQ(0x5a, self->trace.values[0]);
	EXPECT_EQ(0x04030201, self->trace.values[1]);
	/* OUTS takes one exit per element, INS one for the four. */
	EXPECT_STREQ(expected_real_exits(), self->trace.exits);
	get_regs(_metadata, &self->vcpu, &self->regs);
	/* Just past HLT, at the end of the code before the data. */
	hlt = (guest_real_end - guest_real_start) - 15 + 0x1000;
	EXPECT_EQ(hlt, self->regs.rip);
	EXPECT_EQ(0, self->regs.rcx & 0xffff);
	EXPECT_EQ(0x04030201, *word32(&self->vm, hlt + 11));
}

/* The guest enters protected mode itself: GDT, CR0 write, far jump. */
TEST_F(guest, real_to_protected)
{
	struct kvm_sregs sregs;

	LOAD(&self->vm, 0x1000, switch);
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_GET_SREGS, &sregs));
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_SREGS, &sregs));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x1000, 0));
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
	ASSERT_EQ(2, self->trace.nvalues);
	/* The guest sees its own CR0: CD, NW, ET and PE, no forced PG or WP. */
	EXPECT_EQ(0x60000011, self->trace.values[0]);
	EXPECT_EQ(0x12345678, self->trace.values[1]);
	EXPECT_EQ(0x12345678, *word32(&self->vm, 0x3000));
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_GET_SREGS, &sregs));
	EXPECT_EQ(0x60000011, sregs.cr0);
	EXPECT_EQ(8, sregs.cs.selector);
	EXPECT_EQ(1, sregs.cs.db);
}

/*
 * Builds 32-bit paging tables: identity for 4 MiB, 0x40000000 -> 0x200000,
 * and 0x80000000 -> the 4 MiB page at 0.
 */
static uint64_t tables_32(struct vm *vm)
{
	uint32_t *pd = word32(vm, 0x100000), *pt1 = word32(vm, 0x101000);
	uint32_t *pt0 = word32(vm, 0x102000);
	int i;

	for (i = 0; i < 1024; i++)
		pt0[i] = (i << 12) | PTE_P | PTE_W;
	pd[0] = 0x102000 | PTE_P | PTE_W;
	pd[0x40000000 >> 22] = 0x101000 | PTE_P | PTE_W;
	pt1[0] = 0x200000 | PTE_P | PTE_W;
	pd[0x80000000u >> 22] = 0 | PTE_P | PTE_W | PTE_PS;
	return 0x100000;
}

/* PAE: identity 4 MiB in 2 MiB pages, 0x40000000 -> 0x200000, 0x80000000 -> 2 MiB pages at 0. */
static uint64_t tables_pae(struct vm *vm)
{
	uint64_t *pdpt = word64(vm, 0x100000), *pd0 = word64(vm, 0x102000);
	uint64_t *pd1 = word64(vm, 0x104000), *pt1 = word64(vm, 0x105000);
	uint64_t *pd2 = word64(vm, 0x106000);

	pdpt[0] = 0x102000 | PTE_P;
	pdpt[1] = 0x104000 | PTE_P;
	pdpt[2] = 0x106000 | PTE_P;
	pd0[0] = 0 | PTE_P | PTE_W | PTE_PS;
	pd0[1] = 0x200000 | PTE_P | PTE_W | PTE_PS;
	pd1[0] = 0x105000 | PTE_P | PTE_W;
	pt1[0] = 0x200000 | PTE_P | PTE_W;
	pd2[0] = 0 | PTE_P | PTE_W | PTE_PS;
	pd2[1] = 0x200000 | PTE_P | PTE_W | PTE_PS;
	return 0x100000;
}

/* Long mode: as PAE, plus 0x8000000000 -> the 1 GiB page at 0. */
static uint64_t tables_long(struct vm *vm)
{
	uint64_t *pml4 = word64(vm, 0x100000), *pdpt0 = word64(vm, 0x101000);
	uint64_t *pd0 = word64(vm, 0x102000), *pd1 = word64(vm, 0x103000);
	uint64_t *pt1 = word64(vm, 0x104000), *pd2 = word64(vm, 0x105000);
	uint64_t *pdpt1 = word64(vm, 0x106000);

	pml4[0] = 0x101000 | PTE_P | PTE_W;
	pml4[1] = 0x106000 | PTE_P | PTE_W;
	pdpt0[0] = 0x102000 | PTE_P | PTE_W;
	pdpt0[1] = 0x103000 | PTE_P | PTE_W;
	pdpt0[2] = 0x105000 | PTE_P | PTE_W;
	pd0[0] = 0 | PTE_P | PTE_W | PTE_PS;
	pd0[1] = 0x200000 | PTE_P | PTE_W | PTE_PS;
	pd1[0] = 0x104000 | PTE_P | PTE_W;
	pt1[0] = 0x200000 | PTE_P | PTE_W;
	pd2[0] = 0 | PTE_P | PTE_W | PTE_PS;
	pd2[1] = 0x200000 | PTE_P | PTE_W | PTE_PS;
	pdpt1[0] = 0 | PTE_P | PTE_W | PTE_PS;
	return 0x100000;
}

/* Runs the paged32 or long payload and checks what it saw and left. */
static void check_paged(struct __test_metadata *_metadata, struct vm *vm, struct vcpu *vcpu,
			struct trace *trace, uint32_t marker)
{
	*word32(vm, 0x200000) = 0x600df00d;
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(vcpu, trace));
	ASSERT_LE(2, trace->nvalues);
	EXPECT_EQ(0x600df00d, trace->values[0]);
	EXPECT_EQ(marker, trace->values[1]);
	EXPECT_EQ(marker, *word32(vm, 0x200004));
}

/* 32-bit protected mode without paging, set up by the VMM. */
TEST_F(guest, protected_mode)
{
	LOAD(&self->vm, 0x1000, switch);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, 0, 0, 0, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu,
				    guest_switch_flat - guest_switch_start + 0x1000, 0x8000));
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
	ASSERT_EQ(2, self->trace.nvalues);
	EXPECT_EQ(0x11, self->trace.values[0]);
	EXPECT_EQ(0x12345678, self->trace.values[1]);
}

/* 32-bit paging with 4 KiB and 4 MiB pages; accessed and dirty bits set. */
TEST_F(guest, paging_32bit)
{
	uint64_t cr3 = tables_32(&self->vm);

	LOAD(&self->vm, 0x2000, paged32);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, CR0_PG, cr3, CR4_PSE, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	check_paged(_metadata, &self->vm, &self->vcpu, &self->trace, 0xcafe0001);
	EXPECT_EQ(PTE_A | PTE_D, *word32(&self->vm, 0x101000) & (PTE_A | PTE_D));
	EXPECT_EQ(PTE_A, *word32(&self->vm, 0x100000 + (0x40000000 >> 22) * 4) & (PTE_A | PTE_D));
}

/* PAE paging with 4 KiB and 2 MiB pages. */
TEST_F(guest, paging_pae)
{
	uint64_t cr3 = tables_pae(&self->vm);

	LOAD(&self->vm, 0x2000, paged32);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, CR0_PG, cr3, CR4_PAE, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	check_paged(_metadata, &self->vm, &self->vcpu, &self->trace, 0xcafe0001);
	EXPECT_EQ(PTE_A | PTE_D, *word64(&self->vm, 0x105000) & (PTE_A | PTE_D));
}

/* 64-bit long mode with 4 KiB, 2 MiB and 1 GiB pages. */
TEST_F(guest, long_mode)
{
	uint64_t cr3 = tables_long(&self->vm);

	LOAD(&self->vm, 0x2000, long);
	/* Without long mode in CPUID, KVM refuses EFER.LME. */
	EXPECT_EQ(-EINVAL, vcpu_protected_mode(&self->vcpu, CR0_PG, cr3, CR4_PAE,
					       EFER_LME | EFER_LMA, 1));
	ASSERT_EQ(0, vcpu_cpuid_long_mode(&self->vcpu));
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, CR0_PG, cr3, CR4_PAE,
					 EFER_LME | EFER_LMA, 1));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	check_paged(_metadata, &self->vm, &self->vcpu, &self->trace, 0xcafe0002);
	ASSERT_EQ(4, self->trace.nvalues);
	EXPECT_EQ(0xcafe0002, self->trace.values[2]);
	/* CPUID answers from the table. */
	EXPECT_EQ(CPUID_LM | CPUID_GBPAGES | CPUID_NX, self->trace.values[3]);
	EXPECT_EQ(PTE_A | PTE_D, *word64(&self->vm, 0x104000) & (PTE_A | PTE_D));
	EXPECT_EQ(PTE_A, *word64(&self->vm, 0x106000) & (PTE_A | PTE_D));
}

/* The guest changes its own page table, flushes, and sees the new mapping. */
TEST_F(guest, guest_edits_page_table)
{
	uint64_t cr3 = tables_32(&self->vm);

	LOAD(&self->vm, 0x2000, edit);
	*word32(&self->vm, 0x200000) = 0x11111111;
	*word32(&self->vm, 0x201000) = 0x22222222;
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, CR0_PG, cr3, CR4_PSE, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	get_regs(_metadata, &self->vcpu, &self->regs);
	self->regs.rbx = 0x101000;
	self->regs.rcx = 0x201000 | PTE_P | PTE_W;
	self->regs.rdx = 0x200000 | PTE_P | PTE_W;
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_REGS, &self->regs));
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
	ASSERT_EQ(3, self->trace.nvalues);
	EXPECT_EQ(0x11111111, self->trace.values[0]);
	EXPECT_EQ(0x22222222, self->trace.values[1]);
	EXPECT_EQ(0x11111111, self->trace.values[2]);
}

/* A page fault the guest's own IDT handles. */
TEST_F(guest, guest_page_fault)
{
	uint64_t cr3 = tables_32(&self->vm);
	uint32_t *pd = word32(&self->vm, cr3);

	LOAD(&self->vm, 0x2000, pf);
	pd[0x50000000 >> 22] = 0x107000 | PTE_P | PTE_W;
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, CR0_PG, cr3, CR4_PSE, 0, 0));
	/* Interrupt delivery reads the code segment from the GDT. */
	ASSERT_EQ(0, vcpu_gdt(&self->vm, &self->vcpu));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	get_regs(_metadata, &self->vcpu, &self->regs);
	self->regs.rbx = 0x107000;
	self->regs.rcx = 0x202000 | PTE_P | PTE_W;
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_REGS, &self->regs));
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
	ASSERT_EQ(3, self->trace.nvalues);
	EXPECT_EQ(0x50000000, self->trace.values[0]);
	/* Not present, write, supervisor. */
	EXPECT_EQ(0x2, self->trace.values[1]);
	EXPECT_EQ(0x5a5a5a5a, self->trace.values[2]);
	EXPECT_EQ(0x5a5a5a5a, *word32(&self->vm, 0x202000));
	EXPECT_EQ(PTE_A | PTE_D, *word32(&self->vm, 0x107000) & (PTE_A | PTE_D));
}

/* A triple fault ends the run with KVM_EXIT_SHUTDOWN. */
TEST_F(guest, triple_fault)
{
	LOAD(&self->vm, 0x2000, triple);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, 0, 0, 0, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	ASSERT_EQ(KVM_EXIT_SHUTDOWN, run_guest(&self->vcpu, &self->trace));
}

/* Accesses outside every memory slot exit as MMIO; reads complete on the next run. */
TEST_F(guest, mmio)
{
	LOAD(&self->vm, 0x2000, mmio);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, 0, 0, 0, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
	EXPECT_STREQ("mwd0000000:4 mrd0000010:2 mrd0000020:1 o84:4*1 o84:4*1 ",
		     self->trace.exits);
	ASSERT_EQ(3, self->trace.nvalues);
	EXPECT_EQ(0xabcd1234, self->trace.values[0]);
	EXPECT_EQ(0x8180, self->trace.values[1] & 0xffff);
	EXPECT_EQ(0x80, self->trace.values[2]);
}

/* An entry the processor refuses (64-bit code with CS.D set) ends with FAIL_ENTRY. */
TEST_F(guest, fail_entry)
{
	uint64_t cr3 = tables_long(&self->vm);
	struct kvm_sregs sregs;

	LOAD(&self->vm, 0x2000, long);
	ASSERT_EQ(0, vcpu_cpuid_long_mode(&self->vcpu));
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, CR0_PG, cr3, CR4_PAE,
					 EFER_LME | EFER_LMA, 1));
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_GET_SREGS, &sregs));
	sregs.cs.db = 1;
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_SREGS, &sregs));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	ASSERT_EQ(KVM_EXIT_FAIL_ENTRY, run_guest(&self->vcpu, &self->trace));
	EXPECT_EQ(0xffffffffULL, self->vcpu.run->fail_entry.hardware_entry_failure_reason);
}

/* Executing outside every memory slot cannot be emulated: KVM_EXIT_INTERNAL_ERROR. */
TEST_F(guest, internal_error)
{
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, 0, 0, 0, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0xd0000000, 0x8000));
	ASSERT_EQ(KVM_EXIT_INTERNAL_ERROR, run_guest(&self->vcpu, &self->trace));
	EXPECT_EQ(KVM_INTERNAL_ERROR_EMULATION, self->vcpu.run->internal.suberror);
}

/* A guest trying to reach the host: every attempt faults in the guest. */
TEST_F(guest, hostile_guest)
{
	uint64_t cr3 = tables_32(&self->vm);
	uint32_t *pd = word32(&self->vm, cr3), *pt = word32(&self->vm, 0x108000);
	int i;

	LOAD(&self->vm, 0x2000, hostile);
	/* 0x60000000 -> guest physical 0x7ff00000, far outside the slot. */
	pd[0x60000000 >> 22] = 0x108000 | PTE_P | PTE_W;
	pt[0] = 0x7ff00000 | PTE_P | PTE_W;
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, CR0_PG, cr3, CR4_PSE, 0, 0));
	ASSERT_EQ(0, vcpu_gdt(&self->vm, &self->vcpu));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
	ASSERT_EQ(6, self->trace.nvalues);
	/* VMRUN, VMLOAD, VMSAVE: #UD, the guest has no SVM. */
	for (i = 0; i < 3; i++)
		EXPECT_EQ(6, self->trace.values[i]);
	/* WRMSR of a host MSR and of EFER.SVME: #GP. */
	EXPECT_EQ(13, self->trace.values[3]);
	EXPECT_EQ(13, self->trace.values[4]);
	/* Its own page table pointing outside its memory reaches only MMIO. */
	EXPECT_EQ(0x83828180, self->trace.values[5]);
	EXPECT_NE(NULL, strstr(self->trace.exits, "mr7ff00000:4 "));
}

/* A slot whose memory the VMM unmapped: KVM_RUN fails with EFAULT. */
TEST_F(guest, unmapped_slot_memory)
{
	struct kvm_userspace_memory_region region = {
		.slot = 1, .guest_phys_addr = 0x10000000, .memory_size = 0x10000,
	};
	void *gone = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, gone);
	ASSERT_EQ(0, munmap(gone, 0x10000));
	region.userspace_addr = (uintptr_t)gone;
	/* Like KVM, the slot is accepted: nobody looks at the memory yet. */
	ASSERT_EQ(0, ioctl(self->vm.fd, KVM_SET_USER_MEMORY_REGION, &region));
	LOAD(&self->vm, 0x2000, paged32);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, 0, 0, 0, 0, 0));
	/* Without paging, 0x40000000 is outside the slots: jump into the unmapped slot instead. */
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x10000000, 0x8000));
	EXPECT_EQ(-EFAULT, vcpu_run(&self->vcpu));
	/* The VM lives on: the rest of its memory still runs. */
	LOAD(&self->vm, 0x2000, switch);
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu,
				    guest_switch_flat - guest_switch_start + 0x2000, 0x8000));
	EXPECT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
}

/* A vCPU keeps its VM: it runs after the VM's and the device's files are closed. */
TEST_F(guest, run_after_vm_closed)
{
	LOAD(&self->vm, 0x1000, switch);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, 0, 0, 0, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu,
				    guest_switch_flat - guest_switch_start + 0x1000, 0x8000));
	close(self->vm.fd);
	close(self->vm.dev);
	self->vm.fd = -1;
	self->vm.dev = -1;
	ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
	EXPECT_EQ(0x12345678, self->trace.values[1]);
}

static void on_signal(int sig)
{
}

struct runner {
	struct vcpu *vcpu;
	int result;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->result = vcpu_run(r->vcpu);
	return NULL;
}

/* Closing the VM while a vCPU thread is in KVM_RUN: the run goes on until a signal. */
TEST_F(guest, close_vm_while_running)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct runner r = { .vcpu = &self->vcpu };
	pthread_t thread;

	LOAD(&self->vm, 0x2000, spin);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, 0, 0, 0, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pthread_create(&thread, NULL, run_thread, &r));
	usleep(100000);
	close(self->vm.fd);
	close(self->vm.dev);
	self->vm.fd = -1;
	self->vm.dev = -1;
	usleep(100000);
	pthread_kill(thread, SIGUSR1);
	pthread_join(thread, NULL);
	EXPECT_EQ(-EINTR, r.result);
}

/* 1000 VMs created, run to HLT and destroyed. */
TEST(create_run_destroy_1000)
{
	struct trace trace;
	int i, ret;

	for (i = 0; i < 1000; i++) {
		struct vm vm;
		struct vcpu vcpu;

		ret = vm_create(&vm, 1 << 20);
		if (ret == -ENOENT)
			SKIP(return, "%s missing", kvm_device());
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, vcpu_create(&vm, &vcpu, 0));
		LOAD(&vm, 0x1000, switch);
		ASSERT_EQ(0, vcpu_protected_mode(&vcpu, 0, 0, 0, 0, 0));
		ASSERT_EQ(0, vcpu_set_entry(&vcpu,
					    guest_switch_flat - guest_switch_start + 0x1000,
					    0x8000));
		memset(&trace, 0, sizeof(trace));
		ASSERT_EQ(KVM_EXIT_HLT, run_guest(&vcpu, &trace));
		vcpu_destroy(&vcpu);
		vm_destroy(&vm);
	}
}

/* A VM counter from debugfs (rkvm's or KVM's directory), or -1. */
static long long vm_counter(struct vm *vm, const char *name)
{
	const char *top = strcmp(kvm_device(), "/dev/rkvm") ? "kvm" : "rkvm";
	char path[128];
	long long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%d-%d/%s", top, getpid(), vm->fd,
		 name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

/*
 * Four address spaces, switched in a loop: the exits each switch costs
 * (from the VM's exit counter), measured as the difference of two runs.
 */
TEST_F(guest, context_switch_exits)
{
	uint64_t base = tables_32(&self->vm);
	uint32_t *roots = word32(&self->vm, 0x3000);
	long long exits[2];
	int k, run, loops[2] = { 40, 440 };

	LOAD(&self->vm, 0x2000, cswitch);
	for (k = 0; k < 4; k++) {
		uint32_t pd = 0x110000 + k * 0x1000, pt = 0x120000 + k * 0x1000;
		uint32_t page = 0x130000 + k * 0x1000;

		memcpy(self->vm.mem + pd, self->vm.mem + base, 4096);
		*word32(&self->vm, pd + (0x40000000 >> 22) * 4) = pt | PTE_P | PTE_W;
		*word32(&self->vm, pt) = page | PTE_P | PTE_W;
		*word32(&self->vm, page) = k + 1;
		roots[k] = pd;
	}
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, CR0_PG, base, CR4_PSE, 0, 0));
	for (run = 0; run < 2; run++) {
		exits[run] = vm_counter(&self->vm, "exits");
		if (exits[run] < 0)
			SKIP(return, "no exit counter in debugfs");
		ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
		get_regs(_metadata, &self->vcpu, &self->regs);
		self->regs.rcx = loops[run];
		ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_REGS, &self->regs));
		self->trace.nvalues = 0;
		ASSERT_EQ(KVM_EXIT_HLT, run_guest(&self->vcpu, &self->trace));
		ASSERT_EQ(1, self->trace.nvalues);
		EXPECT_EQ(loops[run] / 4 * 10, self->trace.values[0]);
		exits[run] = vm_counter(&self->vm, "exits") - exits[run];
	}
	TH_LOG("%s: %.2f exits per guest context switch (4 address spaces)", kvm_device(),
	       (double)(exits[1] - exits[0]) / (loops[1] - loops[0]));
	/* The counter moved: the guest did exit for its page faults and CR3 writes. */
	EXPECT_LT(0, exits[1] - exits[0]);
}

/* Runs the vCPU to its next HLT on CPU `cpu`; returns the entries that flushed its TLB. */
static long long flushes_on(struct __test_metadata *_metadata, struct vm *vm, struct vcpu *vcpu,
			    struct trace *t, int cpu)
{
	long long before = vm_counter(vm, "tlb_flush");
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	EXPECT_EQ(KVM_EXIT_HLT, run_guest(vcpu, t));
	return vm_counter(vm, "tlb_flush") - before;
}

/*
 * A vCPU keeps its ASID and TLB entries while it stays on one CPU, and starts
 * without them on every move, back to the first CPU too: the entries left
 * there under its old ASID may predate a change made while it ran elsewhere.
 * (QEMU's TCG flushes at every world switch, so only rkvm's count shows this.)
 */
TEST_F(guest, migration_flushes_tlb)
{
	static const uint8_t halt_loop[] = { 0xf4, 0xeb, 0xfd };	/* 1: hlt; jmp 1b */
	struct kvm_sregs sregs;
	cpu_set_t saved;

	if (strcmp(kvm_device(), "/dev/rkvm"))
		SKIP(return, "rkvm's tlb_flush counts new ASIDs; KVM's counts flush requests");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	ASSERT_LE(0, vm_counter(&self->vm, "tlb_flush"));
	memcpy(self->vm.mem + 0x1000, halt_loop, sizeof(halt_loop));
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_GET_SREGS, &sregs));
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_SREGS, &sregs));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x1000, 0));
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(saved), &saved));
	EXPECT_EQ(1, flushes_on(_metadata, &self->vm, &self->vcpu, &self->trace, 0));
	EXPECT_EQ(0, flushes_on(_metadata, &self->vm, &self->vcpu, &self->trace, 0));
	EXPECT_EQ(1, flushes_on(_metadata, &self->vm, &self->vcpu, &self->trace, 1));
	EXPECT_EQ(0, flushes_on(_metadata, &self->vm, &self->vcpu, &self->trace, 1));
	EXPECT_EQ(1, flushes_on(_metadata, &self->vm, &self->vcpu, &self->trace, 0));
	/* A guest CR3 write, here through KVM_SET_SREGS, flushes on the same CPU. */
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_SREGS, &sregs));
	EXPECT_EQ(1, flushes_on(_metadata, &self->vm, &self->vcpu, &self->trace, 0));
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(saved), &saved));
}

/* Sends SIGUSR1 to `target` after 200 ms. */
static void *signal_later(void *target)
{
	usleep(200000);
	pthread_kill(*(pthread_t *)target, SIGUSR1);
	return NULL;
}

/* A signal interrupts KVM_RUN of a spinning guest: EINTR and KVM_EXIT_INTR. */
TEST_F(guest, signal_interrupts_run)
{
	struct sigaction sa = { .sa_handler = on_signal };
	pthread_t self_thread = pthread_self(), sender;
	int round;

	LOAD(&self->vm, 0x2000, spin);
	ASSERT_EQ(0, vcpu_protected_mode(&self->vcpu, 0, 0, 0, 0, 0));
	ASSERT_EQ(0, vcpu_set_entry(&self->vcpu, 0x2000, 0x8000));
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	/* Running again spins again, until the next signal. */
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, pthread_create(&sender, NULL, signal_later, &self_thread));
		EXPECT_EQ(-EINTR, vcpu_run(&self->vcpu));
		pthread_join(sender, NULL);
		EXPECT_EQ(KVM_EXIT_INTR, self->vcpu.run->exit_reason);
		get_regs(_metadata, &self->vcpu, &self->regs);
		EXPECT_EQ(0x2000, self->regs.rip);
	}
}

struct spinner {
	struct vm vm;
	struct vcpu vcpu;
	pthread_t thread;
	int result;
};

static void *spin_thread(void *arg)
{
	struct spinner *s = arg;

	s->result = vcpu_run(&s->vcpu);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Two guests spin forever on the two CPUs: the host keeps running (a sleeper
 * wakes on time), and a signal stops each.
 */
TEST(spinning_guests_never_stall_the_host)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct spinner s[2];
	double start, late;
	int i;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	for (i = 0; i < 2; i++) {
		int ret = vm_create(&s[i].vm, GUEST_MEM_SIZE);

		if (ret == -ENOENT)
			SKIP(return, "%s missing", kvm_device());
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, vcpu_create(&s[i].vm, &s[i].vcpu, 0));
		LOAD(&s[i].vm, 0x2000, spin);
		ASSERT_EQ(0, vcpu_protected_mode(&s[i].vcpu, 0, 0, 0, 0, 0));
		ASSERT_EQ(0, vcpu_set_entry(&s[i].vcpu, 0x2000, 0x8000));
		ASSERT_EQ(0, pthread_create(&s[i].thread, NULL, spin_thread, &s[i]));
	}
	/* Ten 50 ms sleeps while both spin. */
	start = now();
	for (i = 0; i < 10; i++)
		usleep(50000);
	late = now() - start - 0.5;
	TH_LOG("10 x 50 ms sleeps took %.0f ms longer than asked", late * 1000);
	EXPECT_GT(2.0, late);
	for (i = 0; i < 2; i++) {
		pthread_kill(s[i].thread, SIGUSR1);
		pthread_join(s[i].thread, NULL);
		EXPECT_EQ(-EINTR, s[i].result);
		vcpu_destroy(&s[i].vcpu);
		vm_destroy(&s[i].vm);
	}
}

TEST_HARNESS_MAIN
