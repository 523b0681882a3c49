#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Print the problem reports in a guest run's kernel log, kmemleak report and
# taint flags (files written by guest-init.sh into DIR). Prints nothing when
# the run was clean.
#
# Filesystem errors count as reports too, except on a device a test has
# announced as broken on purpose, with a kernel log line such as
# "<test>: DEV fails writes on purpose: expect I/O errors" or
# "<test>: DEV is corrupt on purpose: expect filesystem errors" (any words
# between DEV and "on purpose"). Reads past the end of a device always count.
#
# An allocation-failure sweep (fail-nth) makes allocations fail on purpose,
# and some print a report when they fail: warn_alloc()'s "page allocation
# failure" or "vmalloc error" line, a stack dump and the memory state. Such
# a report is no problem while a sweep has announced itself, from a line
# "<test>: allocations fail on purpose: expect allocation failure reports"
# to "<test>: allocations fail no more" (or the start of the next test,
# which guest-tests.sh writes as "ferrite: test NAME starts"). Only the
# report's own lines are dropped: any other report in the window (a WARNING,
# a KASAN report, a stack dump with no allocation failure before it) still
# counts, and so does an allocation-failure report outside a window.

dir=$1
pattern='WARNING:|BUG:|BUG |Oops|general protection fault|KASAN|UBSAN|KFENCE|'
pattern+='possible recursive locking|possible circular locking|'
pattern+='inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|'
pattern+='trying to register non-static key|Kernel panic|kernel BUG|ODEBUG|'
pattern+='panicked at|rust_panic|Call Trace:|cut here|INFO: task .* blocked|'
pattern+='soft lockup|hard LOCKUP|access beyond end of device|'
pattern+='EXT4-fs error|EXT[24]-fs \([^)]*\): error|'
pattern+='page allocation failure|vmalloc error'

failing=$(grep -oE ': [a-z0-9-]+ [a-zA-Z/ ]* on purpose: expect [a-zA-Z/]+ errors' \
	"$dir/dmesg" | awk '{ print $2 }' | sort -u)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Only the filesystem's own lines about those devices are dropped, and the
# allocation-failure reports of announced sweeps.
awk -v devs="$failing" '
	BEGIN { n = split(devs, d, "\n") }
	# The line without its "[   12.345678] " timestamp.
	function text(line) {
		sub(/^\[ *[0-9]+\.[0-9]+\] /, "", line)
		return line
	}
	# A line of a warn_alloc() report after its first: dump_stack() (the
	# task, the hardware, the call trace) and show_mem(). None is the
	# first line of any other report.
	function dump_line(t) {
		return t ~ /^CPU: [0-9]+ UID: [0-9]+ PID: [0-9]+ Comm: / ||
			t ~ /^Tainted: / || t ~ /^Hardware name: / ||
			t ~ /^Workqueue: / || t ~ /^Call Trace:$/ ||
			t ~ /^ <\/?(TASK|IRQ|SOFTIRQ|NMI)>$/ ||
			t ~ /^ (\? )?[A-Za-z0-9_.]+\+0x[0-9a-f]+\/0x[0-9a-f]+( \[[A-Za-z0-9_]+\])?$/ ||
			t ~ /^ (\? )?0x[0-9a-f]+$/ ||
			t ~ /^RIP: 0033:0x[0-9a-f]+$/ || t ~ /^Code: [0-9a-f <>]+$/ ||
			t ~ /^RSP: 002b:[0-9a-f]+ EFLAGS: [0-9a-f]+ ORIG_RAX: [0-9a-f]+$/ ||
			t ~ /^R[A-Z0-9][A-Z0-9]: [0-9a-f]+( R[A-Z0-9][A-Z0-9]: [0-9a-f]+)*$/ ||
			t ~ /^Mem-Info:$/ ||
			t ~ /^ ?[a-z_]+:[0-9]+( [a-z_]+:[0-9]+)*$/ ||
			t ~ /^Node [0-9]+ / || t ~ /^lowmem_reserve\[\]:( [0-9]+)+$/ ||
			t ~ /^[0-9]+ total pagecache pages$/ ||
			t ~ /^[0-9]+ pages in swap cache$/ ||
			t ~ /^(Free|Total) swap += [0-9]+kB$/ ||
			t ~ /^[0-9]+ pages (RAM|HighMem\/MovableOnly|reserved|cma reserved|hwpoisoned)$/
	}
	{ t = text($0) }
	t ~ /: allocations fail on purpose: expect allocation failure reports$/ {
		sweep = 1
		print
		next
	}
	t ~ /: allocations fail no more$/ || t ~ /^ferrite: test [^ ]+ starts$/ {
		sweep = 0
		dump = 0
		print
		next
	}
	dump && dump_line(t) { next }
	{ dump = 0 }
	sweep && t ~ /^[^ ]+: (page allocation failure: order:[0-9]+|vmalloc error: size [0-9]+, [^,]+), mode:0x[0-9a-f]+\(/ {
		dump = 1
		next
	}
	/EXT[24]-fs/ { for (i = 1; i <= n; i++)
		if (index($0, "(device " d[i] ")") || index($0, "(" d[i] ")")) next }
	{ print }' "$dir/dmesg" >"$log"
grep -E -A20 "$pattern" "$log" | head -n 80
if [ -s "$dir/kmemleak" ]; then
	echo "kmemleak:"
	head -n 60 "$dir/kmemleak"
fi
# Boot-time KUnit doctests set TAINT_TEST (bit 18); nothing else may be set,
# and nothing may change while the tests run.
start=$(cat "$dir/tainted-at-start" 2>/dev/null || echo missing)
end=$(cat "$dir/tainted" 2>/dev/null || echo missing)
if [ "$start" = missing ] || [ "$end" = missing ]; then
	echo "kernel taint flags not recorded"
elif [ $((start & ~(1 << 18))) != 0 ] || [ "$end" != "$start" ]; then
	echo "kernel tainted: $start at start of the run, $end at its end"
fi
