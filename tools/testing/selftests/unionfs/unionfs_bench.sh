#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of 'make bench' for unionfs: unionfs_bench with overlayfs and
# unionfs loaded, in the ferrite test guest. $1 is the kernel build directory.

kbuild=$1
insmod "$kbuild/fs/overlayfs/overlay.ko" || exit 1
if ! insmod "$kbuild/fs/unionfs/unionfs.ko"; then
	rmmod overlay
	exit 1
fi
"$kbuild/kselftest/unionfs/unionfs_bench"
status=$?
rmmod unionfs
rmmod overlay
exit $status
