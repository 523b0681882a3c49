#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of 'make bench' for rkvm: the exits a guest context switch costs
# on rkvm and on stock KVM (kvm_amd npt=0), side by side in one boot.

kbuild=$1
test=$kbuild/kselftest/rkvm/run_test
kvm=("$kbuild/virt/lib/irqbypass.ko" "$kbuild/arch/x86/kvm/kvm.ko" "$kbuild/arch/x86/kvm/kvm-amd.ko")

# Prints the exits per switch that run_test's context_switch_exits measured.
measure() {
	KVM_DEVICE=$1 "$test" -t context_switch_exits 2>&1 |
		sed -n 's/.*: \([0-9.]*\) exits per guest context switch.*/\1/p'
}

insmod "$kbuild/drivers/virt/rkvm/rkvm.ko" || exit 1
rkvm=$(measure /dev/rkvm)
rmmod rkvm
insmod "${kvm[0]}" && insmod "${kvm[1]}" && insmod "${kvm[2]}" npt=0 || exit 1
stock=$(measure /dev/kvm)
rmmod kvm_amd kvm irqbypass
[ -n "$rkvm" ] && [ -n "$stock" ] || { echo "rkvm bench: no measurement"; exit 1; }

echo "rkvm: exits per guest context switch, 4 address spaces (guest exit counters)"
printf '  %-32s %8s\n' "rkvm (uncached shadow MMU)" "$rkvm" "KVM, kvm_amd npt=0" "$stock"
printf '  %-32s %8s\n' "ratio rkvm / KVM" "$(echo "scale=2; $rkvm / $stock" | bc)"
