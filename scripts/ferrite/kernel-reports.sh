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

dir=$1
pattern='WARNING:|BUG:|BUG |Oops|general protection fault|KASAN|UBSAN|KFENCE|'
pattern+='possible recursive locking|possible circular locking|'
pattern+='inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|'
pattern+='trying to register non-static key|Kernel panic|kernel BUG|ODEBUG|'
pattern+='panicked at|rust_panic|Call Trace:|cut here|INFO: task .* blocked|'
pattern+='soft lockup|hard LOCKUP|access beyond end of device|'
pattern+='EXT4-fs error|EXT[24]-fs \([^)]*\): error'

failing=$(grep -oE ': [a-z0-9-]+ [a-zA-Z/ ]* on purpose: expect [a-zA-Z/]+ errors' \
	"$dir/dmesg" | awk '{ print $2 }' | sort -u)
log=$dir/dmesg
if [ -n "$failing" ]; then
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	# Only the filesystem's own lines about those devices are dropped.
	awk -v devs="$failing" '
		BEGIN { n = split(devs, d, "\n") }
		/EXT[24]-fs/ { for (i = 1; i <= n; i++)
			if (index($0, "(device " d[i] ")") || index($0, "(" d[i] ")")) next }
		{ print }' "$dir/dmesg" >"$log"
fi
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
