#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run inside the test guest by demo.sh: a short tour of each module.

kbuild=$1
set -e

echo "== $(uname -r) on$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2-)"
echo "== Rust doctests at boot: $(dmesg | grep -c '    ok [0-9]* rust_doctest') passed," \
	"$(dmesg | grep -c '    not ok [0-9]* rust_doctest') failed"

echo "== rust_misc_device: a misc device written against rust/kernel/miscdevice.rs"
insmod "$kbuild/samples/rust/rust_misc_device.ko"
dmesg | grep rust_misc_device | tail -n 1
ls -l /dev/rust-misc-device
"$kbuild/kselftest/rust/misc_device_test" | grep -E '^(not )?ok|^# Totals'
rmmod rust_misc_device
echo "== unloaded rust_misc_device"

echo "== rkvm: KVM's ioctl interface in Rust, running guests on AMD SVM"
insmod "$kbuild/drivers/virt/rkvm/rkvm.ko"
ls -l /dev/rkvm
echo "-- a real-mode guest printing through port 0x3f8 on rkvm:"
"$kbuild/kselftest/rkvm/hello_guest"
"$kbuild/kselftest/rkvm/run_test" | grep -E '^(not )?ok|^# Totals'
rmmod rkvm
echo "== unloaded rkvm"

echo "== unionfs: overlayfs-compatible union mounts in Rust"
insmod "$kbuild/fs/unionfs/unionfs.ko"
demo=$(mktemp -d /tmp/unionfs-demo.XXXXXX)
mkdir -p "$demo"/top/docs "$demo"/bottom/docs "$demo"/upper "$demo"/work "$demo"/union
echo "new readme" >"$demo"/top/README
echo "old readme" >"$demo"/bottom/README
echo "secret" >"$demo"/bottom/docs/draft
echo "manual" >"$demo"/bottom/docs/manual
mknod "$demo"/top/docs/draft c 0 0 # a whiteout: hides docs/draft below
mount -t unionfs unionfs "$demo"/union \
	-o lowerdir="$demo"/top:"$demo"/bottom,upperdir="$demo"/upper,workdir="$demo"/work
grep "$demo"/union /proc/mounts
echo "-- union (top layer over bottom; docs/draft whited out):"
(cd "$demo"/union && find . | sort && cat README)
echo "-- write docs/manual (copied up), remove README (whited out):"
echo "edited" >>"$demo"/union/docs/manual
rm "$demo"/union/README
(cd "$demo"/union && find . | sort && cat docs/manual)
echo "-- upper layer (a copy of docs/manual, a 0/0 whiteout for README):"
(cd "$demo"/upper && find . | sort && ls -l README)
echo "-- lower layer unchanged:"
cat "$demo"/bottom/docs/manual
umount "$demo"/union
rm -rf "$demo"
rmmod unionfs
echo "== unloaded unionfs"
echo "== dirra: directory readahead for getdents(); a cold listing on a device with 10 ms per I/O"
insmod "$kbuild/fs/dirra/dirra.ko"
insmod "$kbuild/drivers/md/dm-delay.ko"
img=$(mktemp /tmp/dirra-demo.XXXXXX)
mnt=$(mktemp -d /tmp/dirra-demo-mnt.XXXXXX)
truncate -s 64M "$img"
mke2fs -q -F -t ext4 -b 4096 -N 20000 "$img"
loop=$(losetup -f --show "$img")
mount "$loop" "$mnt"
# Two directories filled in turns, so that their blocks interleave.
"$kbuild/kselftest/dirra/dirra_bench" populate "$mnt" 2 6000
umount "$mnt"
dmsetup create dirra-demo --table "0 $(blockdev --getsz "$loop") delay $loop 0 10"
delay=/dev/dm-$(dmsetup info -c --noheadings -o minor dirra-demo | tr -d ' ')
# This is the test kernel: KASAN and lockdep make every entry cost CPU
# time, the same with dirra and without, so the tour shows both the time
# and the part of it the listing spent off the CPU, waiting for reads.
for enable in 0 1; do
	echo $enable >/sys/module/dirra/parameters/enable
	mount -o ro "$delay" "$mnt"
	echo 3 >/proc/sys/vm/drop_caches
	reads=$(awk '{ print $1 }' "/sys/block/${delay#/dev/}/stat")
	read -r n ms wait <<<"$("$kbuild/kselftest/dirra/dirra_bench" waits "$mnt/d0")"
	reads=$(($(awk '{ print $1 }' "/sys/block/${delay#/dev/}/stat") - reads))
	echo "   enable=$enable: getdents() of $n entries, cold: $ms ms," \
		"$wait ms of it waiting for reads; $reads reads"
	umount "$mnt"
done
echo "   (make bench measures dirra on the benchmark kernel, without the debug checks)"
(cd /sys/kernel/debug/dirra && grep . -- *) | sed 's/^/   /'
dmsetup remove dirra-demo
losetup -d "$loop"
rm -rf "$img" "$mnt"
rmmod dm_delay
rmmod dirra
echo "== unloaded dirra"
