#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# dirra's benchmark, run in the test guest by 'make bench' (benches.conf).
#
#   bench-dirra.sh KBUILD
#
# For ext2 and ext4 (dir_index): D directories of N entries each, created
# round-robin so that their blocks interleave on disk (fragmented); the entries
# are hard links to a few files, and the file systems have no journal, so that
# filling them takes minutes, not hours, under emulation. The image
# is then served by a device that adds DELAY_MS to every I/O with unlimited
# parallelism (dm-delay), and by one that serves a single I/O at a time
# (null_blk, memory-backed, queue depth 1, timer completion after DELAY_MS).
# One directory is listed cold (remount and drop caches first) with getdents(),
# dirra off and on; and warm, to see dirra's overhead. Cold 'ls -l' is not
# measured: its cost is reading the inodes, which dirra does not read ahead
# (no statahead), and which hard links would hide anyway.
#
# The ext2 image is filled through the ext4 driver (an ext2 file system with
# dir_index, so that filling is not quadratic) and mounted as ext2, which reads
# the hashed directory as a plain one.

kbuild=$1
D=${DIRRA_BENCH_DIRS:-2}
N=${DIRRA_BENCH_ENTRIES:-100000}
DELAY_MS=${DIRRA_BENCH_DELAY_MS:-2}
COLD_RUNS=${DIRRA_BENCH_COLD_RUNS:-3}
WARM_RUNS=${DIRRA_BENCH_WARM_RUNS:-9}
set -euo pipefail

tool=$kbuild/kselftest/dirra/dirra_bench
param=/sys/module/dirra/parameters
work=$(mktemp -d /tmp/dirra-bench.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"

insmod "$kbuild/fs/dirra/dirra.ko"
insmod "$kbuild/drivers/md/dm-delay.ko"
# null_blk needs configfs.
insmod "$kbuild/fs/configfs/configfs.ko" 2>/dev/null || true
cleanup() {
	umount "$mnt" 2>/dev/null || true
	dmsetup remove dirra-delay 2>/dev/null || true
	losetup -D
	rmmod null_blk 2>/dev/null || true
	rmmod dm_delay 2>/dev/null || true
	rmmod configfs 2>/dev/null || true
	rmmod dirra 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

minimum() { sort -n | head -n1; }

# make_image FS IMG: an image of FS with D directories of N entries.
make_image() {
	local fs=$1 img=$2 dev opts
	case $fs in
	ext4) opts=(-t ext4 -O ^has_journal) ;;
	ext2) opts=(-t ext2 -O dir_index) ;;
	esac
	truncate -s $((64 + D * N * 64 / 1048576))M "$img"
	mke2fs -q -F "${opts[@]}" -b 4096 "$img"
	dev=$(losetup -f --show "$img")
	mount -t ext4 "$dev" "$mnt"
	local t0
	t0=$(ms)
	"$tool" populate "$mnt" "$D" "$N"
	echo "# $fs: $D directories of $N entries made in $(awk "BEGIN { printf \"%.0f\", ($(ms) - $t0) / 1000 }") s" >&2
	umount "$mnt"
	losetup -d "$dev"
}

# cold_getdents DEV FS ENABLE: median ms of a cold getdents() pass over d0.
cold_getdents() {
	local dev=$1 fs=$2 i out
	echo "$3" >$param/enable
	for i in $(seq "$COLD_RUNS"); do
		mount -t "$fs" -o ro "$dev" "$mnt"
		sync
		echo 3 >/proc/sys/vm/drop_caches
		out=$("$tool" list "$mnt/d0")
		[ "${out% *}" = $((N + 2)) ] || { echo "listed ${out% *} entries, not $((N + 2))" >&2; exit 1; }
		echo "${out#* }"
		umount "$mnt"
	done | median
}

# warm DEV FS: fastest of WARM_RUNS cached getdents() passes, dirra off then on.
warm() {
	local dev=$1 fs=$2 e i
	mount -t "$fs" -o ro "$dev" "$mnt"
	"$tool" list "$mnt/d0" >/dev/null
	for e in 0 1; do
		echo $e >$param/enable
		"$tool" list "$mnt/d0" >/dev/null
		for i in $(seq "$WARM_RUNS"); do
			out=$("$tool" list "$mnt/d0")
			echo "${out#* }"
		done | minimum
	done
	umount "$mnt"
}

results=$work/results
: >"$results"
# record FS DEVICE TEST OFF ON
record() { echo "$*" >>"$results"; }

measure() {
	local dev=$1 fs=$2 devname=$3 off on
	off=$(cold_getdents "$dev" "$fs" 0)
	on=$(cold_getdents "$dev" "$fs" 1)
	record "$fs" "$devname" cold-getdents "$off" "$on"
}

echo "# dirra benchmark: $D directories x $N entries, round-robin; ${DELAY_MS} ms per I/O"
for fs in ext2 ext4; do
	img=$work/$fs.img
	make_image "$fs" "$img"

	loop=$(losetup -f --show "$img")
	dmsetup create dirra-delay --table "0 $(blockdev --getsz "$loop") delay $loop 0 $DELAY_MS"
	# No udev here: use devtmpfs's node.
	delay=/dev/dm-$(dmsetup info -c --noheadings -o minor dirra-delay | tr -d ' ')
	measure "$delay" "$fs" "dm-delay" || echo "# $fs on dm-delay: measurement failed" >&2
	w=$(warm "$delay" "$fs" | paste -sd' ') && record "$fs" cached warm-getdents $w
	dmsetup remove dirra-delay
	losetup -d "$loop"

	insmod "$kbuild/drivers/block/null_blk/null_blk.ko" nr_devices=1 queue_mode=2 \
		memory_backed=1 hw_queue_depth=1 submit_queues=1 irqmode=2 \
		completion_nsec=$((DELAY_MS * 1000000)) bs=4096 \
		gb=$(( ($(stat -c %s "$img") + (1 << 30) - 1) >> 30 ))
	dd if="$img" of=/dev/nullb0 bs=1M oflag=direct status=none
	measure /dev/nullb0 "$fs" "null_blk-qd1" || echo "# $fs on null_blk: measurement failed" >&2
	rmmod null_blk
	rm -f "$img"
done

echo
printf '%-5s %-13s %-14s %10s %10s %9s\n' fs device test "off (ms)" "on (ms)" "on/off"
awk '{ printf "%-5s %-13s %-14s %10.1f %10.1f %9.3f\n", $1, $2, $3, $4, $5, $5 / $4 }' "$results"
echo

# target NAME MEASURED GOAL MET
target() { echo "target dirra-$1: measured $2, goal $3: $([ "$4" = 1 ] && echo met || echo missed)"; }
while read -r fs dev test off on; do
	speedup=$(awk "BEGIN { printf \"%.2f\", $off / $on }")
	case "$test/$dev" in
	cold-getdents/dm-delay)
		target "cold-getdents-$fs-dm-delay" "${speedup}x" ">= 4x" \
			"$(awk "BEGIN { print ($off / $on >= 4) }")" ;;
	cold-getdents/null_blk-qd1)
		target "cold-getdents-$fs-single-io" "${speedup}x" "> 1x" \
			"$(awk "BEGIN { print ($off / $on > 1) }")" ;;
	warm-getdents/cached)
		target "warm-getdents-$fs" "$(awk "BEGIN { printf \"%+.1f%%\", ($on / $off - 1) * 100 }")" \
			"<= +2%" "$(awk "BEGIN { print ($on <= $off * 1.02) }")" ;;
	esac
done <"$results"
for fs in ext2 ext4; do
	target "cold-ls-l-$fs-dm-delay" "not measured (no statahead)" ">= 2x" 0
done
