// SPDX-License-Identifier: GPL-2.0
/*
 * A guest printing through an I/O port: the smallest complete VMM on KVM's
 * interface. It runs the real-mode payload of guest.S on $KVM_DEVICE
 * (default /dev/rkvm), prints what the guest wrote to port 0x3f8, each exit,
 * and the VM's counters from debugfs.
 */

#include <stdio.h>

#include "guest.h"
#include "vmm.h"

int main(void)
{
	struct kvm_sregs sregs;
	struct vm vm;
	struct vcpu vcpu;
	char path[128], line[64];
	const char *top;
	FILE *f;

	if (vm_create(&vm, GUEST_MEM_SIZE) || vcpu_create(&vm, &vcpu, 0)) {
		perror(kvm_device());
		return 1;
	}
	vm_load(&vm, 0x1000, guest_real_start, guest_real_end);
	if (ioctl(vcpu.fd, KVM_GET_SREGS, &sregs))
		return 1;
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	if (ioctl(vcpu.fd, KVM_SET_SREGS, &sregs) || vcpu_set_entry(&vcpu, 0x1000, 0))
		return 1;
	printf("guest output: ");
	for (;;) {
		struct kvm_run *run = vcpu.run;
		uint8_t *data;

		if (vcpu_run(&vcpu)) {
			perror("KVM_RUN");
			return 1;
		}
		data = vcpu_io_data(&vcpu);
		if (run->exit_reason != KVM_EXIT_IO)
			break;
		if (run->io.direction == KVM_EXIT_IO_IN) {
			memset(data, 0x2a, run->io.size * run->io.count);
			continue;
		}
		if (run->io.port == 0x3f8)
			fwrite(data, run->io.size, run->io.count, stdout);
	}
	printf("\nlast exit: %s\n", vcpu.run->exit_reason == KVM_EXIT_HLT ? "HLT" : "other");
	top = strcmp(kvm_device(), "/dev/rkvm") ? "kvm" : "rkvm";
	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%d-%d/exits", top, getpid(), vm.fd);
	f = fopen(path, "r");
	if (f && fgets(line, sizeof(line), f))
		printf("%s: %s", path, line);
	if (f)
		fclose(f);
	vcpu_destroy(&vcpu);
	vm_destroy(&vm);
	return 0;
}
