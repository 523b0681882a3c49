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
# dirra off and on (COLD_RUNS times each, off and on in turns; the median);
# and warm, to see dirra's overhead: WARM_RUNS rounds of samples with dirra
# not loaded, loaded but off, and on, back to back (which goes first
# rotates), each round giving a ratio on/not loaded; the median ratio is the
# overhead, its quartiles the spread (rounds cancel the slow drifts of a
# shared host). Cold 'ls -l'
# (getdents, and lstat() of each entry) is measured on D more directories of
# F empty files each (an inode each, also created round-robin), dirra off and
# on with statahead.
#
# XFS, when mkfs.xfs and the xfs module are there, is the reference: the same
# layout, listed cold on the same devices with its own directory readahead
# (dirra does not handle XFS), on rows of their own.
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
COLD_RUNS=${DIRRA_BENCH_COLD_RUNS:-5}
WARM_RUNS=${DIRRA_BENCH_WARM_RUNS:-31}
WARM_PASSES=${DIRRA_BENCH_WARM_PASSES:-20}
IMAGE_VERSION=1
default_images=
# run-guest.sh's output share, writable and kept on the host.
[ -w /run/ferrite ] && default_images=/run/ferrite/dirra-images
IMAGES=${DIRRA_BENCH_IMAGES-$default_images}
default_fs="ext2 ext4"
command -v mkfs.xfs >/dev/null && [ -f "$kbuild/fs/xfs/xfs.ko" ] && default_fs+=" xfs"
FILESYSTEMS=${DIRRA_BENCH_FS:-$default_fs}
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
case " $FILESYSTEMS " in
*" xfs "*)
	for m in crypto/crc32c_generic lib/libcrc32c fs/xfs/xfs; do
		[ ! -f "$kbuild/$m.ko" ] || insmod "$kbuild/$m.ko" 2>/dev/null || true
	done
	grep -qw xfs /proc/filesystems ||
		{ echo "# xfs: no driver, no reference rows" >&2; FILESYSTEMS=${FILESYSTEMS/xfs/}; }
	;;
esac
cleanup() {
	umount "$mnt" 2>/dev/null || true
	dmsetup remove dirra-delay 2>/dev/null || true
	losetup -D
	rmmod null_blk 2>/dev/null || true
	rmmod dm_delay 2>/dev/null || true
	rmmod configfs 2>/dev/null || true
	rmmod xfs libcrc32c 2>/dev/null || true
	rmmod dirra 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# quartiles: "median q1 q3" of the numbers on stdin.
quartiles() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[int((NR + 3) / 4)], v[int((3 * NR + 1) / 4)] }'
}

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
	truncate -s $((64 + D * (N + 4 * F) * 64 / 1048576))M "$img"
	case $fs in
	ext4) mke2fs -q -F -t ext4 -O ^has_journal -b 4096 -N $((D * F + 4096)) "$img" ;;
	ext2) mke2fs -q -F -t ext2 -O dir_index -b 4096 -N $((D * F + 4096)) "$img" ;;
	# mkfs.xfs refuses file systems under 300 MiB; the image is sparse. 4 KiB
	# sectors, or XFS will not mount it on null_blk's 4 KiB blocks.
	xfs) truncate -s 512M "$img" && mkfs.xfs -q -f -b size=4096 -s size=4096 "$img" ;;
	esac
	dev=$(losetup -f --show "$img")
	mount -t "$( [ "$fs" = xfs ] && echo xfs || echo ext4)" "$dev" "$mnt"
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

# cold DEV FS MODE DIR ENTRIES CONFIG...: DIR listed cold (MODE list or lsl)
# COLD_RUNS times in each CONFIG (ENABLE/STATAHEAD, such as 1/0), the
# configurations in turns, so that a slow spell of a shared host does not
# fall on one of them; prints the median ms of each, in order.
cold() {
	local dev=$1 fs=$2 mode=$3 dir=$4 entries=$5 i c k out r0
	shift 5
	: >"$work/cold"
	for i in $(seq "$COLD_RUNS"); do
		k=0
		for c in "$@"; do
			echo "${c%/*}" >$param/enable
			echo "${c#*/}" >$param/statahead
			mount -t "$fs" -o ro "$dev" "$mnt"
			sync
			echo 3 >/proc/sys/vm/drop_caches
			r0=$(reads "$dev")
			out=$("$tool" "$mode" "$mnt/$dir")
			[ "${out% *}" = $((entries + 2)) ] || { echo "listed ${out% *} entries, not $((entries + 2))" >&2; exit 1; }
			echo "# $fs $dev $mode $dir enable=${c%/*} statahead=${c#*/}: ${out#* } ms, $(($(reads "$dev") - r0)) reads" >&2
			echo "$k ${out#* }" >>"$work/cold"
			umount "$mnt"
			k=$((k + 1))
		done
	done
	echo 1 >$param/enable
	echo 1 >$param/statahead
	for k in $(seq 0 $(($# - 1))); do
		awk -v k="$k" '$1 == k { print $2 }' "$work/cold" | median
	done | paste -sd' '
}

# warm DEV FS: cached getdents() passes in WARM_RUNS rounds of three
# samples back to back: dirra not loaded, loaded with enable=0 (its probe
# still registered), and on (which goes first rotates); a sample is
# WARM_PASSES passes on ext2 (a pass takes some 20 ms, too short to time
# alone against the noise of emulation), divided back to one pass. Prints
# the medians not loaded and on, and the median and quartiles of the
# rounds' ratios on/not loaded: the fairest baseline is the kernel without
# dirra at all.
warm() {
	local dev=$1 fs=$2 e i passes=1 order col name
	[ "$fs" = ext4 ] || passes=$WARM_PASSES
	mount -t "$fs" -o ro "$dev" "$mnt"
	"$tool" list "$mnt/d0" >/dev/null
	for i in $(seq "$WARM_RUNS"); do
		case $((i % 3)) in
		0) order="u 0 1" ;;
		1) order="0 1 u" ;;
		*) order="1 u 0" ;;
		esac
		for e in $order; do
			if [ "$e" = u ]; then
				rmmod dirra
			else
				echo "$e" >$param/enable
			fi
			out=$("$tool" list "$mnt/d0" "$passes")
			eval "t$e=${out#* }"
			[ "$e" != u ] || insmod "$kbuild/fs/dirra/dirra.ko"
		done
		# shellcheck disable=SC2154 # tu, t0 and t1 are set by the eval above
		echo "$(awk "BEGIN { printf \"%.3f %.3f %.3f %.5f %.5f\", $tu / $passes, $t0 / $passes, $t1 / $passes, $t1 / $tu, $t0 / $tu }")"
	done >"$work/warm"
	echo 1 >$param/enable
	umount "$mnt"
	for col in 1:unloaded 2:enable=0 3:enable=1; do
		name=${col#*:}
		col=${col%%:*}
		echo "# $fs warm $name: median $(awk -v c="$col" '{ print $c }' "$work/warm" | median) ms, spread $(awk -v c="$col" '{ print $c }' "$work/warm" | spread) ms" >&2
	done
	echo "# $fs warm: enable=0 / not loaded, median of $WARM_RUNS rounds: $(awk '{ print $5 }' "$work/warm" | median); $passes passes a sample" >&2
	echo "$(awk '{ print $1 }' "$work/warm" | median) $(awk '{ print $3 }' "$work/warm" | median) $(awk '{ print $4 }' "$work/warm" | quartiles)"
}

results=$work/results
: >"$results"
# record FS DEVICE TEST OFF ON
record() { echo "$*" >>"$results"; }

measure() {
	local dev=$1 fs=$2 devname=$3 off on v
	v=$(cold "$dev" "$fs" list d0 "$N" 0/1 1/1) || return 1
	read -r off on <<<"$v"
	record "$fs" "$devname" cold-getdents "$off" "$on"
}

# Cold 'ls -l', dirra off and on; and on without statahead, to see what
# statahead itself brings on each file system (a row of its own: dirra off,
# and on with statahead=0).
measure_lsl() {
	local dev=$1 fs=$2 devname=$3 off on nosa v
	v=$(cold "$dev" "$fs" lsl f0 "$F" 0/1 1/1 1/0) || return 1
	read -r off on nosa <<<"$v"
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
	if [ "$fs" = xfs ]; then
		# The reference: XFS's own readahead, dirra not involved.
		v=$(cold "$delay" xfs list d0 "$N" 0/1) && record xfs dm-delay cold-getdents "$v" - ||
			echo "# xfs on dm-delay: measurement failed" >&2
		v=$(cold "$delay" xfs lsl f0 "$F" 0/1) && record xfs dm-delay cold-ls-l "$v" - ||
			echo "# xfs ls -l on dm-delay: measurement failed" >&2
	else
		measure "$delay" "$fs" "dm-delay" || echo "# $fs on dm-delay: measurement failed" >&2
		measure_lsl "$delay" "$fs" "dm-delay" || echo "# $fs ls -l on dm-delay: measurement failed" >&2
		if w=$(warm "$delay" "$fs"); then
			read -r woff won wratio wq1 wq3 <<<"$w"
			record "$fs" cached warm-getdents "$woff" "$won"
			record "$fs" cached warm-ratio "$wratio" "$wq1" "$wq3"
		fi
	fi
	dmsetup remove dirra-delay
	losetup -d "$loop"

	insmod "$kbuild/drivers/block/null_blk/null_blk.ko" nr_devices=1 queue_mode=2 \
		memory_backed=1 hw_queue_depth=1 submit_queues=1 irqmode=2 \
		completion_nsec=$((DELAY_MS * 1000000)) bs=4096 \
		gb=$(( ($(stat -c %s "$img") + (1 << 30) - 1) >> 30 ))
	dd if="$img" of=/dev/nullb0 bs=1M oflag=direct status=none
	if [ "$fs" = xfs ]; then
		v=$(cold /dev/nullb0 xfs list d0 "$N" 0/1) && record xfs null_blk-qd1 cold-getdents "$v" - ||
			echo "# xfs on null_blk: measurement failed" >&2
	else
		measure /dev/nullb0 "$fs" "null_blk-qd1" || echo "# $fs on null_blk: measurement failed" >&2
	fi
	rmmod null_blk
	rm -f "$img"
done

echo
printf '%-5s %-13s %-14s %10s %10s %9s\n' fs device test "off (ms)" "on (ms)" "on/off"
awk '$3 != "warm-ratio" {
	if ($5 == "-")
		printf "%-5s %-13s %-14s %10.1f %10s %9s\n", $1, $2, $3, $4, "-", "-"
	else
		printf "%-5s %-13s %-14s %10.1f %10.1f %9.3f\n", $1, $2, $3, $4, $5, $5 / $4
}' "$results"
echo
awk '$3 == "warm-ratio" { printf "# %s warm: on/not loaded of %s rounds: median %.4f, quartiles %.4f..%.4f\n", $1, n, $4, $5, $6 }' \
	n="$WARM_RUNS" "$results"
echo "# warm-getdents rows: the off column is dirra not loaded, the fairest baseline"
awk '$1 == "xfs" { print "# xfs rows: XFS with its own directory readahead, dirra not involved (off column)" ; exit }' "$results"
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
for fs in ${FILESYSTEMS//xfs/}; do
	for t in cold-getdents/dm-delay cold-getdents/null_blk-qd1 warm-getdents/cached cold-ls-l/dm-delay; do
		# A here-string: the guest has no /dev/fd for process substitution.
		read -r off on <<<"$(awk -v f="$fs" -v t="${t%/*}" -v d="${t#*/}" \
			'$1 == f && $3 == t && $2 == d { print $4, $5 }' "$results")" || true
		case $t in
		cold-getdents/dm-delay) name=cold-getdents-$fs-dm-delay goal=">= 4x" ;;
		cold-getdents/null_blk-qd1) name=cold-getdents-$fs-single-io goal="> 1x" ;;
		warm-getdents/cached)
			name=warm-getdents-$fs goal="<= +2%"
			# The median of the paired ratios, not the ratio of the medians.
			read -r on q1 q3 <<<"$(awk -v f="$fs" '$1 == f && $3 == "warm-ratio" { print $4, $5, $6 }' "$results")" || true
			off=1
			;;
		cold-ls-l/dm-delay) name=cold-ls-l-$fs-dm-delay goal=">= 2x" ;;
		esac
		if [ -z "${on:-}" ]; then
			target "$name" "not measured" "$goal" 0
		elif [ "$t" = warm-getdents/cached ]; then
			target "$name" "$(awk "BEGIN { printf \"%+.1f%% (median of $WARM_RUNS paired ratios, quartiles %+.1f%%..%+.1f%%)\", ($on - 1) * 100, ($q1 - 1) * 100, ($q3 - 1) * 100 }")" \
				"$goal" "$(awk "BEGIN { print ($on <= 1.02) }")"
		else
			min=${goal#* }
			min=${min%x}
			target "$name" "$(awk "BEGIN { printf \"%.2fx\", $off / $on }")" "$goal" \
				"$(awk "BEGIN { r = $off / $on; print ((\"$goal\" ~ /^>=/) ? r >= $min : r > $min) }")"
		fi
		off= on=
	done
done
