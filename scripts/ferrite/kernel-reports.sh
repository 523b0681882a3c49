#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Print the problem reports in a guest run's kernel log, kmemleak report and
# taint flags (files written by guest-init.sh into DIR). Prints nothing when
# the run was clean.

dir=$1
pattern='WARNING:|BUG:|BUG |Oops|general protection fault|KASAN|UBSAN|'
pattern+='possible recursive locking|possible circular locking|'
pattern+='inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|'
pattern+='trying to register non-static key|Kernel panic|kernel BUG|'
pattern+='panicked at|rust_panic|Call Trace:|cut here|INFO: task .* blocked'
grep -E -A20 "$pattern" "$dir/dmesg" | head -n 80
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
