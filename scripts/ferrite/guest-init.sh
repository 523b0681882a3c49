#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the ferrite test guest (see run-guest.sh).
#
# The root filesystem is the host's, read-only over 9p. This mounts the
# kernel filesystems and scratch tmpfs, runs the requested command with its
# output on the writable "ferrite-out" share, records its exit status, the
# kernel log and any kmemleak report there, and powers off.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TERM=dumb LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug
# Scratch tmpfs over the usual writable places. A path the run needs (the
# repository, the build cache, the working directory) may lie below one of
# them, as in a clone under /tmp: those are bound back from the host's view.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/host
mount --bind / /run/host
for d in /tmp /var/tmp /var/lib /var/log /mnt /media; do
	mount -t tmpfs -o mode=1777 tmpfs "$d"
done
out=/run/ferrite
mkdir -p $out
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none ferrite-out $out

cat /proc/sys/kernel/tainted >$out/tainted-at-start

# Boot-time allocations are not ours: only leaks made from here on count.
kmemleak=/sys/kernel/debug/kmemleak
[ -w $kmemleak ] && echo clear >$kmemleak

while read -r keep; do
	[ -d "$keep" ] && [ -n "$(ls -A "$keep" 2>/dev/null)" ] && continue
	mkdir -p "$keep"
	mount --bind "/run/host$keep" "$keep"
done <$out/keep

cd "$(cat $out/cwd)" 2>/dev/null || cd /
if [ -f $out/interactive ]; then
	setsid -c /bin/bash -l </dev/ttyS0 >/dev/ttyS0 2>&1
	status=$?
else
	/bin/bash $out/command 2>&1 </dev/null | tee $out/output >/dev/ttyS0
	status=${PIPESTATUS[0]}
fi
echo "$status" >$out/status

if [ -w $kmemleak ]; then
	# Two scans, as kmemleak's documentation advises, to skip transient
	# false positives from objects in flight.
	echo scan >$kmemleak
	sleep 1
	echo scan >$kmemleak
	cat $kmemleak >$out/kmemleak
fi
cat /proc/sys/kernel/tainted >$out/tainted
dmesg >$out/dmesg
sync
umount $out
poweroff -f 2>/dev/null || busybox poweroff -f
echo o >/proc/sysrq-trigger
sleep 10
