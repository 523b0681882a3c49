// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures, one after another (fail-nth), in each step of a VM's
 * life: creating the VM, a vCPU and a memory slot, and running a guest. A
 * step whose allocation fails returns ENOMEM and leaves nothing behind (the
 * guest run's kmemleak scan and the kernel log checks catch what does); a
 * guest whose run failed that way runs on to the same end when retried.
 *
 * The device comes from $KVM_DEVICE (default /dev/rkvm); the same program
 * runs against stock KVM, the reference. Needs a kernel with fault
 * injection (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC,
 * CONFIG_FAULT_INJECTION_DEBUG_FS) and debugfs mounted.
 */

#include <stdio.h>

#include "../kselftest_harness.h"
#include "../kselftest/fail_nth.h"
#include "guest.h"
#include "vmm.h"

/* More failure points than any step has: a sweep that gets here is stuck. */
#define MAX_POINTS 5000

FIXTURE(sweep) {
	int nth;
	int dev;
	int failures;
};

FIXTURE_SETUP(sweep)
{
	self->dev = open(kvm_device(), O_RDWR | O_CLOEXEC);
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "%s missing", kvm_device());
	ASSERT_LE(0, self->dev);
	self->nth = fail_nth_open();
	if (self->nth == -ENOENT)
		SKIP(return, "no fault injection (fail-nth, failslab) in this kernel");
	ASSERT_LE(0, self->nth);
	/* Stock KVM's failed vmallocs report themselves. */
	fail_nth_announce("rkvm fault_test", true);
}

FIXTURE_TEARDOWN(sweep)
{
	if (self->nth >= 0) {
		fail_nth_announce("rkvm fault_test", false);
		close(self->nth);
	}
	if (self->dev >= 0)
		close(self->dev);
	TH_LOG("%d failure points made the step fail", self->failures);
}

/* The end of a sweep step: ret is the step's result (-errno on failure). */
static bool step_done(struct __test_metadata *_metadata, int nth, int *failures,
		      unsigned int n, int ret)
{
	int injected = fail_nth_disarm(nth);

	EXPECT_LE(0, injected);
	if (ret) {
		(*failures)++;
		EXPECT_EQ(1, injected) TH_LOG("point %u: failed (%d) without an injected failure",
					      n, ret);
		EXPECT_EQ(-ENOMEM, ret) TH_LOG("point %u", n);
	}
	return injected != 1;
}

TEST_F(sweep, create_vm)
{
	unsigned int n;
	int vm;

	for (n = 1; n < MAX_POINTS; n++) {
		ASSERT_EQ(0, fail_nth_arm(self->nth, n));
		vm = ioctl(self->dev, KVM_CREATE_VM, 0);
		if (step_done(_metadata, self->nth, &self->failures, n, vm < 0 ? -errno : 0))
			break;
		if (vm >= 0)
			close(vm);
	}
	ASSERT_LT(n, MAX_POINTS);
	TH_LOG("KVM_CREATE_VM reached %u failure points", n - 1);
	if (vm >= 0)
		close(vm);
}

TEST_F(sweep, create_vcpu)
{
	unsigned int n;
	int vm, vcpu;

	for (n = 1; n < MAX_POINTS; n++) {
		vm = ioctl(self->dev, KVM_CREATE_VM, 0);
		ASSERT_LE(0, vm);
		ASSERT_EQ(0, fail_nth_arm(self->nth, n));
		vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
		if (step_done(_metadata, self->nth, &self->failures, n, vcpu < 0 ? -errno : 0)) {
			EXPECT_LE(0, vcpu);
			close(vcpu);
			close(vm);
			break;
		}
		if (vcpu >= 0) {
			close(vcpu);
		} else {
			/* The failed vCPU left nothing behind: its id is free. */
			vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
			EXPECT_LE(0, vcpu) TH_LOG("point %u: vCPU 0 after a failed create", n);
			if (vcpu >= 0)
				close(vcpu);
		}
		close(vm);
	}
	ASSERT_LT(n, MAX_POINTS);
	TH_LOG("KVM_CREATE_VCPU reached %u failure points", n - 1);
}

TEST_F(sweep, memslot)
{
	size_t size = 1UL << 20;
	uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	struct kvm_userspace_memory_region region = {
		.memory_size = size, .userspace_addr = (uintptr_t)mem,
	};
	unsigned int n;
	int vm, ret;

	ASSERT_NE(MAP_FAILED, mem);
	for (n = 1; n < MAX_POINTS; n++) {
		vm = ioctl(self->dev, KVM_CREATE_VM, 0);
		ASSERT_LE(0, vm);
		ASSERT_EQ(0, fail_nth_arm(self->nth, n));
		ret = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) ? -errno : 0;
		if (step_done(_metadata, self->nth, &self->failures, n, ret)) {
			close(vm);
			break;
		}
		/* A failed slot creation leaves the slot free. */
		if (ret)
			EXPECT_EQ(0, ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region))
				TH_LOG("point %u: slot 0 after a failed create: %d", n, errno);
		close(vm);
	}
	ASSERT_LT(n, MAX_POINTS);
	TH_LOG("KVM_SET_USER_MEMORY_REGION reached %u failure points", n - 1);
	munmap(mem, size);
}

/*
 * The real-mode payload of guest.S, from reset to HLT, with the nth
 * allocation of the whole run failing: each KVM_RUN that fails is retried,
 * and the guest must print and exit as it does without failures.
 */
static int run_real_mode(struct vcpu *vcpu, char *text, size_t size, int *failed)
{
	size_t len = 0;
	int tries = 0;

	for (;;) {
		struct kvm_run *run = vcpu->run;
		uint8_t *data;
		int ret = vcpu_run(vcpu);

		if (ret) {
			if (!*failed)
				*failed = ret;
			if (++tries > 3)
				return ret;
			continue;
		}
		if (run->exit_reason != KVM_EXIT_IO)
			return run->exit_reason;
		data = vcpu_io_data(vcpu);
		if (run->io.direction == KVM_EXIT_IO_IN) {
			memset(data, 0x2a, run->io.size * run->io.count);
		} else if (run->io.port == 0x3f8) {
			uint32_t i;

			for (i = 0; i < run->io.count && len + 1 < size; i++)
				text[len++] = data[i * run->io.size];
			text[len] = 0;
		}
	}
}

TEST_F(sweep, run_guest)
{
	struct kvm_sregs sregs;
	unsigned int n;

	for (n = 1; n < MAX_POINTS; n++) {
		char text[32] = "";
		struct vcpu vcpu = { 0 };
		struct vm vm;
		int exit, failed = 0;
		bool done;

		ASSERT_EQ(0, vm_create(&vm, GUEST_MEM_SIZE));
		ASSERT_EQ(0, vcpu_create(&vm, &vcpu, 0));
		vm_load(&vm, 0x1000, guest_real_start, guest_real_end);
		ASSERT_EQ(0, ioctl(vcpu.fd, KVM_GET_SREGS, &sregs));
		sregs.cs.selector = 0;
		sregs.cs.base = 0;
		ASSERT_EQ(0, ioctl(vcpu.fd, KVM_SET_SREGS, &sregs));
		ASSERT_EQ(0, vcpu_set_entry(&vcpu, 0x1000, 0));
		ASSERT_EQ(0, fail_nth_arm(self->nth, n));
		exit = run_real_mode(&vcpu, text, sizeof(text), &failed);
		done = step_done(_metadata, self->nth, &self->failures, n, failed);
		EXPECT_EQ(KVM_EXIT_HLT, exit) TH_LOG("point %u", n);
		EXPECT_STREQ("helloworld", text) TH_LOG("point %u", n);
		vcpu_destroy(&vcpu);
		vm_destroy(&vm);
		if (done)
			break;
	}
	ASSERT_LT(n, MAX_POINTS);
	TH_LOG("a guest run reached %u failure points", n - 1);
}

TEST_HARNESS_MAIN
