#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Proves that kernel-reports.sh can fail: synthetic guest kernel logs fed to
# it, each with what it must report or let pass. Run by lint.sh; prints
# nothing and exits 0 when every case behaves.

source "$(dirname "$0")/common.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start='[   10.000001] rkvm fault_test: allocations fail on purpose: expect allocation failure reports'
end='[   20.000001] rkvm fault_test: allocations fail no more'
next='[   30.000001] ferrite: test dirra starts'

# What warn_alloc() prints for a failed vmalloc: the line, the stack, the memory.
warn_alloc() {
	cat <<EOF
[   12.000001] fault_test: vmalloc error: size 8192, failed to allocate pages, mode:0xdc0(GFP_KERNEL|__GFP_ZERO), nodemask=(null),cpuset=/,mems_allowed=0
[   12.000002] CPU: 1 UID: 0 PID: 321 Comm: fault_test Tainted: G                 N 6.12.118 #1
[   12.000003] Tainted: [N]=TEST
[   12.000004] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[   12.000005] Call Trace:
[   12.000006]  <TASK>
[   12.000007]  dump_stack_lvl+0x96/0xd0
[   12.000008]  warn_alloc+0x1f6/0x2d0
[   12.000009]  ? __pfx_warn_alloc+0x10/0x10
[   12.000010]  __vmalloc_node_range_noprof+0xd3e/0x1370
[   12.000011]  kvm_arch_vcpu_create+0x3d/0x8d0 [kvm]
[   12.000012]  __x64_sys_ioctl+0x138/0x1b0
[   12.000013]  do_syscall_64+0x6c/0x140
[   12.000014]  entry_SYSCALL_64_after_hwframe+0x76/0x7e
[   12.000015] RIP: 0033:0x7f5a1b2c3d4e
[   12.000016] Code: 00 48 89 44 24 18 31 c0 48 8d 44 24 60 c7 04 24 10 00 00 00 48 89 44 24 08 48 8d 44 24 20 48 89 44 24 10 b8 10 00 00 00 0f 05 <89> c2 3d 00 f0 ff ff 77 1c 48 8b 44 24 18 64 48 2b 04 25 28 00 00
[   12.000017] RSP: 002b:00007ffd6b7c8e10 EFLAGS: 00000246 ORIG_RAX: 0000000000000010
[   12.000018] RAX: ffffffffffffffda RBX: 0000000000000004 RCX: 00007f5a1b2c3d4e
[   12.000019] RDX: 0000000000000000 RSI: 000000000000ae41 RDI: 0000000000000004
[   12.000020] RBP: 00007ffd6b7c8f40 R08: 0000000000000000 R09: 0000000000000000
[   12.000021] R10: 0000000000000000 R11: 0000000000000246 R12: 0000000000000000
[   12.000022] R13: 00007ffd6b7c9078 R14: 000055d3e1b4ad38 R15: 00007f5a1b3f5000
[   12.000023]  </TASK>
[   12.000024] Mem-Info:
[   12.000025] active_anon:1234 inactive_anon:0 isolated_anon:0
[   12.000026]  active_file:0 inactive_file:0 isolated_file:0
[   12.000027]  unevictable:0 dirty:0 writeback:0
[   12.000028]  free:600000 free_pcp:1000 free_cma:0
[   12.000029] Node 0 active_anon:4936kB inactive_anon:0kB all_unreclaimable? no
[   12.000030] Node 0 DMA free:14336kB boost:0kB min:44kB low:52kB high:60kB
[   12.000031] lowmem_reserve[]: 0 1886 2916 2916
[   12.000032] Node 0 DMA: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 0*1024kB 1*2048kB (M) 3*4096kB (M) = 14336kB
[   12.000033] Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB
[   12.000034] 1000 total pagecache pages
[   12.000035] 0 pages in swap cache
[   12.000036] Free swap  = 0kB
[   12.000037] Total swap = 0kB
[   12.000038] 786302 pages RAM
[   12.000039] 0 pages HighMem/MovableOnly
[   12.000040] 30000 pages reserved
EOF
}

warning() {
	cat <<'EOF'
[   14.000001] ------------[ cut here ]------------
[   14.000002] WARNING: CPU: 0 PID: 321 at drivers/virt/rkvm/vm.rs:100 rkvm_thing+0x10/0x20 [rkvm]
[   14.000003] Call Trace:
[   14.000004]  <TASK>
[   14.000005]  rkvm_thing+0x10/0x20 [rkvm]
[   14.000006]  </TASK>
[   14.000007] ---[ end trace 0000000000000000 ]---
EOF
}

# check NAME WANT: runs kernel-reports.sh on $tmp/NAME/dmesg (from stdin),
# WANT is "clean" or "report". Runs at the end of a pipeline, in a subshell:
# a case that misbehaves leaves $tmp/failed.
check() {
	local d=$tmp/$1 out
	mkdir -p "$d"
	cat >"$d/dmesg"
	echo 262144 >"$d/tainted-at-start"
	echo 262144 >"$d/tainted"
	out=$("$FERRITE_SCRIPTS/kernel-reports.sh" "$d")
	if [ "$2" = clean ] && [ -n "$out" ]; then
		echo "kernel-reports-test: $1: reported, but should pass:"
		echo "$out" | head -n 20
		touch "$tmp/failed"
	elif [ "$2" = report ] && [ -z "$out" ]; then
		echo "kernel-reports-test: $1: passed, but should have been reported"
		touch "$tmp/failed"
	fi
}

printf '%s\n' "$start" "$(warn_alloc)" "$end" | check announced_warn_alloc clean
warn_alloc | check unannounced_warn_alloc report
printf '%s\n' "$start" "$end" "$(warn_alloc)" | check warn_alloc_after_the_sweep report
printf '%s\n' "$start" "$next" "$(warn_alloc)" | check warn_alloc_in_the_next_test report
printf '%s\n' "$start" "$(warning)" "$end" | check warning_in_a_sweep report
printf '%s\n' "$start" "$(warn_alloc | head -n 12)" "$(warning)" "$(warn_alloc | tail -n +13)" \
	"$end" | check warning_inside_a_warn_alloc_dump report
printf '%s\n' "$start" '[   13.000000] BUG: KASAN: slab-use-after-free in foo+0x1/0x2' "$end" |
	check kasan_in_a_sweep report
# A stack dump with no allocation failure before it.
printf '%s\n' "$start" "$(warn_alloc | sed -n 2,23p)" "$end" | check bare_stack_in_a_sweep report
printf '%s\n' "$start" "$(warn_alloc)" "$(warn_alloc)" "$end" | check two_warn_allocs clean
[ ! -e "$tmp/failed" ]
