#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the ferrite test kernel under QEMU (TCG, never the host's /dev/kvm),
# run a command in it and report.
#
#   run-guest.sh [--timeout SECONDS] [--out DIR] [--shell] [--] COMMAND...
#
# The guest's root is the host's filesystem, read-only over 9p, so COMMAND
# sees this repository and the build output at their host paths; /tmp and
# friends are tmpfs. COMMAND's output is printed and kept in DIR/output, the
# kernel log in DIR/dmesg. The exit status is COMMAND's, or 124 when the
# guest hung and was killed, or 125 when the kernel log holds a WARNING,
# BUG, KASAN, lockdep, kmemleak or Rust panic report, or the kernel was
# tainted.

source "$(dirname "$0")/common.sh"

timeout=600
out=
shell=
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) timeout=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--shell) shell=1; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ -n "$shell" ] || [ $# -gt 0 ] || die "usage: run-guest.sh [--timeout S] [--out DIR] [--shell] COMMAND..."

ensure_built
kernel=$(KBUILD)/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no kernel at $kernel: run 'make' first"
out=${out:-$(mktemp -d /tmp/ferrite-guest.XXXXXX)}
mkdir -p "$out"
rm -f "$out"/{status,output,dmesg,kmemleak,tainted,tainted-at-start,interactive,console,keep}
printf '%s\n' "$*" >"$out/command"
pwd >"$out/cwd"
printf '%s\n' "$FERRITE_ROOT" "$FERRITE_CACHE" "$PWD" >"$out/keep"
[ -z "$shell" ] || touch "$out/interactive"

# Console output is the kernel's: keep it quiet unless something goes wrong.
# no5lvl: with -cpu max's LA57, KASAN reports a wild access in an early
# interrupt during boot; 4-level paging avoids it.
append="console=ttyS0 loglevel=4 panic=-1 oops=panic no5lvl"
append+=" root=/dev/root rootfstype=9p ro"
append+=" rootflags=trans=virtio,version=9p2000.L,cache=loose,msize=512000"
append+=" init=$FERRITE_SCRIPTS/guest-init.sh"
append+=" kasan.fault=report kmemleak=on log_buf_len=16M"
# TCG runs the kernel tens of times slower than hardware: report a CPU
# stuck in the kernel after 60 s rather than 20.
append+=" watchdog_thresh=30"
# Extra kernel options for an experiment (e.g. kmemleak=off); empty in the suite.
append+="${FERRITE_GUEST_APPEND:+ $FERRITE_GUEST_APPEND}"

qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 3G
	-machine q35 -nographic -no-reboot -nodefaults -serial mon:stdio
	-kernel "$kernel" -append "$append"
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root
	-fsdev local,id=out,path="$out",security_model=none
	-device virtio-9p-pci,fsdev=out,mount_tag=ferrite-out)

status=0
if [ -n "$shell" ]; then
	"${qemu[@]}" || status=$?
else
	timeout --kill-after=10 "$timeout" "${qemu[@]}" </dev/null >"$out/console" 2>&1 || status=$?
	cat "$out/output" 2>/dev/null
fi
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
	tail -n 40 "$out/console" >&2
	log "guest timed out after ${timeout}s (console log: $out/console)"
	exit 124
fi
if [ ! -f "$out/status" ]; then
	tail -n 60 "$out/console" >&2
	log "guest died before finishing (console log: $out/console)"
	exit 125
fi

# Reports the debug kernel makes; any of them fails the run.
reports=$("$FERRITE_SCRIPTS/kernel-reports.sh" "$out")
if [ -n "$reports" ]; then
	echo "$reports" >&2
	log "kernel reported problems (full log: $out/dmesg)"
	exit 125
fi
exit "$(cat "$out/status")"
