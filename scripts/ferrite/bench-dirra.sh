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
# dirra off and on; and warm, to see dirra's overhead (off and on in turns,
# median of WARM_RUNS each, the spread printed as a comment). Cold 'ls -l'
# (getdents, and lstat() of each entry) is measured on D more directories of
# F empty files each (an inode each, also created round-robin), dirra off and
# on with statahead.
#
# The filled images are kept in DIRRA_BENCH_IMAGES (by default dirra-images in
# the guest's output share, i.e. on the host in the build directory's
# ferrite-bench/, which outlives the boot) and reused by later runs: filling
# them takes most of a run. Each image's name holds the layout's parameters
# and IMAGE_VERSION, bumped when the way they are made changes; a run copies
# its image into the guest's memory first, so that every run reads the same
# layout from the same medium. DIRRA_BENCH_FS limits the file systems.
#
# The ext2 image is filled through the ext4 driver (an ext2 file system with
# dir_index, so that filling is not quadratic) and mounted as ext2, which reads
# the hashed directory as a plain one.

kbuild=$1
D=${DIRRA_BENCH_DIRS:-2}
N=${DIRRA_BENCH_ENTRIES:-100000}
F=${DIRRA_BENCH_FILES:-20000}
DELAY_MS=${DIRRA_BENCH_DELAY_MS:-2}
COLD_RUNS=${DIRRA_BENCH_COLD_RUNS:-3}
WARM_RUNS=${DIRRA_BENCH_WARM_RUNS:-11}
WARM_PASSES=${DIRRA_BENCH_WARM_PASSES:-20}
IMAGE_VERSION=1
default_images=
# run-guest.sh's output share, writable and kept on the host.
[ -w /run/ferrite ] && default_images=/run/ferrite/dirra-images
IMAGES=${DIRRA_BENCH_IMAGES-$default_images}
FILESYSTEMS=${DIRRA_BENCH_FS:-ext2 ext4}
set -euo pipefail

tool=$kbuild/kselftest/dirra/dirra_bench
param=/sys/module/dirra/parameters
work=$(mktemp -d /tmp/dirra-bench.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"

insmod "$kbuild/fs/dirra/dirra.ko"
# Whether the probe is a breakpoint or was optimized into a jump.
sleep 1
echo "# probe: $(grep iterate_dir /sys/kernel/debug/kprobes/list 2>/dev/null || echo unknown)" >&2
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

# spread: "min..max" of the numbers on stdin.
spread() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo ".." hi }'; }

# reads DEV: reads completed on DEV so far (/proc/diskstats).
reads() { awk -v d="${1#/dev/}" '$3 == d { print $4 }' /proc/diskstats; }

# make_image FS IMG: an image of FS with D directories of N entries, and D of
# F files.
make_image() {
	local fs=$1 img=$2 dev opts
	if [ -n "$IMAGES" ] && [ -f "$IMAGES/$fs-$D-$N-$F-v$IMAGE_VERSION.img" ]; then
		cp --sparse=always "$IMAGES/$fs-$D-$N-$F-v$IMAGE_VERSION.img" "$img"
		echo "# $fs: image reused from $IMAGES" >&2
		return
	fi
	case $fs in
	ext4) opts=(-t ext4 -O ^has_journal) ;;
	ext2) opts=(-t ext2 -O dir_index) ;;
	esac
	truncate -s $((64 + D * (N + 4 * F) * 64 / 1048576))M "$img"
	mke2fs -q -F "${opts[@]}" -b 4096 -N $((D * F + 4096)) "$img"
	dev=$(losetup -f --show "$img")
	mount -t ext4 "$dev" "$mnt"
	local t0
	t0=$(ms)
	"$tool" populate "$mnt" "$D" "$N"
	"$tool" files "$mnt" "$D" "$F"
	echo "# $fs: $D directories of $N entries and $D of $F files made in $(awk "BEGIN { printf \"%.0f\", ($(ms) - $t0) / 1000 }") s" >&2
	umount "$mnt"
	losetup -d "$dev"
	if [ -n "$IMAGES" ]; then
		mkdir -p "$IMAGES"
		# Whole or not at all, should the run be cut short.
		cp --sparse=always "$img" "$IMAGES/.$fs.tmp"
		mv "$IMAGES/.$fs.tmp" "$IMAGES/$fs-$D-$N-$F-v$IMAGE_VERSION.img"
	fi
}

# cold DEV FS ENABLE MODE DIR ENTRIES: median ms of a cold pass (MODE list or
# lsl) over DIR.
cold() {
	local dev=$1 fs=$2 mode=$4 dir=$5 entries=$6 i out r0
	echo "$3" >$param/enable
	for i in $(seq "$COLD_RUNS"); do
		mount -t "$fs" -o ro "$dev" "$mnt"
		sync
		echo 3 >/proc/sys/vm/drop_caches
		r0=$(reads "$dev")
		out=$("$tool" "$mode" "$mnt/$dir")
		[ "${out% *}" = $((entries + 2)) ] || { echo "listed ${out% *} entries, not $((entries + 2))" >&2; exit 1; }
		echo "# $fs $dev $mode $dir enable=$3 statahead=$(cat $param/statahead): ${out#* } ms, $(($(reads "$dev") - r0)) reads" >&2
		echo "${out#* }"
		umount "$mnt"
	done | median
}

# warm DEV FS: median ms of cached getdents() passes, dirra off and on in turns;
# a sample is WARM_PASSES passes (ext2: a pass takes some 50 ms, too short to
# time alone against the noise of emulation), divided back to one pass.
warm() {
	local dev=$1 fs=$2 e i passes=1
	[ "$fs" = ext4 ] || passes=$WARM_PASSES
	mount -t "$fs" -o ro "$dev" "$mnt"
	"$tool" list "$mnt/d0" >/dev/null
	for i in $(seq "$WARM_RUNS"); do
		for e in 0 1; do
			echo $e >$param/enable
			out=$("$tool" list "$mnt/d0" "$passes")
			echo "$e $(awk "BEGIN { printf \"%.2f\", ${out#* } / $passes }")"
		done
	done >"$work/warm"
	umount "$mnt"
	for e in 0 1; do
		echo "# $fs warm enable=$e: median $(awk -v e=$e '$1 == e { print $2 }' "$work/warm" | median) ms, spread $(awk -v e=$e '$1 == e { print $2 }' "$work/warm" | spread) ms over $WARM_RUNS samples of $passes passes" >&2
	done
	for e in 0 1; do
		awk -v e=$e '$1 == e { print $2 }' "$work/warm" | median
	done
}

results=$work/results
: >"$results"
# record FS DEVICE TEST OFF ON
record() { echo "$*" >>"$results"; }

measure() {
	local dev=$1 fs=$2 devname=$3 off on
	off=$(cold "$dev" "$fs" 0 list d0 "$N")
	on=$(cold "$dev" "$fs" 1 list d0 "$N")
	record "$fs" "$devname" cold-getdents "$off" "$on"
}

# Cold 'ls -l', dirra off and on; and on without statahead, to see what
# statahead itself brings on each file system (a row of its own: dirra off,
# and on with statahead=0).
measure_lsl() {
	local dev=$1 fs=$2 devname=$3 off on nosa
	off=$(cold "$dev" "$fs" 0 lsl f0 "$F")
	on=$(cold "$dev" "$fs" 1 lsl f0 "$F")
	echo 0 >$param/statahead
	nosa=$(cold "$dev" "$fs" 1 lsl f0 "$F")
	echo 1 >$param/statahead
	record "$fs" "$devname" cold-ls-l "$off" "$on"
	record "$fs" "$devname" cold-ls-l-nosa "$off" "$nosa"
}

echo "# dirra benchmark: $D directories x $N entries, $D x $F files, round-robin; ${DELAY_MS} ms per I/O"
for fs in $FILESYSTEMS; do
	img=$work/$fs.img
	make_image "$fs" "$img"

	loop=$(losetup -f --show "$img")
	dmsetup create dirra-delay --table "0 $(blockdev --getsz "$loop") delay $loop 0 $DELAY_MS"
	# No udev here: use devtmpfs's node.
	delay=/dev/dm-$(dmsetup info -c --noheadings -o minor dirra-delay | tr -d ' ')
	measure "$delay" "$fs" "dm-delay" || echo "# $fs on dm-delay: measurement failed" >&2
	measure_lsl "$delay" "$fs" "dm-delay" || echo "# $fs ls -l on dm-delay: measurement failed" >&2
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
# The CPU part of a listing is what a warm one costs; the rest of a cold one
# is waiting for the device, which is what dirra can remove.
for fs in $FILESYSTEMS; do
	awk -v f="$fs" '$1 == f && $3 == "warm-getdents" { woff = $4; won = $5 }
		$1 == f && $3 == "cold-getdents" { dev[$2] = $4 " " $5 }
		END {
			if (woff == "") exit
			for (d in dev) {
				split(dev[d], v, " ")
				printf "# %s %s: waiting for I/O (cold minus warm) %.0f ms off, %.0f ms on\n", f, d, v[1] - woff, v[2] - won
			}
		}' "$results"
done
echo

# target NAME MEASURED GOAL MET
target() { echo "target dirra-$1: measured $2, goal $3: $([ "$4" = 1 ] && echo met || echo missed)"; }
for fs in $FILESYSTEMS; do
	for t in cold-getdents/dm-delay cold-getdents/null_blk-qd1 warm-getdents/cached cold-ls-l/dm-delay; do
		# A here-string: the guest has no /dev/fd for process substitution.
		read -r off on <<<"$(awk -v f="$fs" -v t="${t%/*}" -v d="${t#*/}" \
			'$1 == f && $3 == t && $2 == d { print $4, $5 }' "$results")" || true
		case $t in
		cold-getdents/dm-delay) name=cold-getdents-$fs-dm-delay goal=">= 4x" ;;
		cold-getdents/null_blk-qd1) name=cold-getdents-$fs-single-io goal="> 1x" ;;
		warm-getdents/cached) name=warm-getdents-$fs goal="<= +2%" ;;
		cold-ls-l/dm-delay) name=cold-ls-l-$fs-dm-delay goal=">= 2x" ;;
		esac
		if [ -z "${on:-}" ]; then
			target "$name" "not measured" "$goal" 0
		elif [ "$t" = warm-getdents/cached ]; then
			target "$name" "$(awk "BEGIN { printf \"%+.1f%%\", ($on / $off - 1) * 100 }")" \
				"$goal" "$(awk "BEGIN { print ($on <= $off * 1.02) }")"
		else
			min=${goal#* }
			min=${min%x}
			target "$name" "$(awk "BEGIN { printf \"%.2fx\", $off / $on }")" "$goal" \
				"$(awk "BEGIN { r = $off / $on; print ((\"$goal\" ~ /^>=/) ? r >= $min : r > $min) }")"
		fi
		off= on=
	done
done
