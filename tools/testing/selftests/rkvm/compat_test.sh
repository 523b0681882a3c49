#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rkvm's compat=1 mode: rkvm serves /dev/kvm (misc minor 232) when KVM does
# not, and refuses to load in that mode while KVM does (kvm.ko registers
# /dev/kvm once a vendor module, here kvm-amd.ko, initialises it).
#
# Needs $KBUILD, the kernel build directory holding the modules, and no
# KVM module loaded.

DIR="$(dirname "$(readlink -f "$0")")"
source "$DIR/../kselftest/ktap_helpers.sh"

rkvm=$KBUILD/drivers/virt/rkvm/rkvm.ko
kvm_modules=("$KBUILD/virt/lib/irqbypass.ko" "$KBUILD/arch/x86/kvm/kvm.ko"
	"$KBUILD/arch/x86/kvm/kvm-amd.ko")

ktap_print_header
if [ ! -f "$rkvm" ] || [ ! -f "${kvm_modules[1]}" ]; then
	ktap_skip_all "set KBUILD to a kernel build with rkvm and kvm modules"
	exit "$KSFT_SKIP"
fi
if [ -e /sys/module/kvm ] || [ -e /sys/module/rkvm ]; then
	ktap_skip_all "kvm or rkvm is loaded already"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 7

is_kvm_minor() {
	[ -c /dev/kvm ] && [ "$(stat -c '%t:%T' /dev/kvm)" = "a:e8" ]
}

ktap_test_result "compat=1 loads without KVM" insmod "$rkvm" compat=1
ktap_test_result "rkvm serves /dev/kvm, misc minor 232" is_kvm_minor
ktap_test_result "/sys/module/rkvm/parameters/compat reads Y" \
	grep -qx Y /sys/module/rkvm/parameters/compat
ktap_test_result "no /dev/rkvm in compat mode" test ! -e /dev/rkvm
ktap_test_result "rkvm unloads" rmmod rkvm

for m in "${kvm_modules[@]}"; do
	insmod "$m" || ktap_exit_fail_msg "cannot load $m"
done
if insmod "$rkvm" compat=1 2>/dev/null; then
	ktap_test_fail "compat=1 is refused while KVM holds /dev/kvm"
	rmmod rkvm
else
	ktap_test_pass "compat=1 is refused while KVM holds /dev/kvm"
fi
if insmod "$rkvm" && [ -c /dev/rkvm ] && rmmod rkvm; then
	ktap_test_pass "without compat, rkvm and KVM coexist"
else
	ktap_test_fail "without compat, rkvm and KVM coexist"
fi
rmmod kvm_amd kvm irqbypass
ktap_finished
