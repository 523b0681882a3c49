// SPDX-License-Identifier: GPL-2.0

//! Counters, shown in `/sys/kernel/debug/dirra/`.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{c_str, debugfs};

/// Listings of directories dirra handles (large enough, on an enabled file system) started.
pub(crate) static DIRS: AtomicU64 = AtomicU64::new(0);
/// Read requests submitted: one per run of adjacent pages.
pub(crate) static IOS: AtomicU64 = AtomicU64::new(0);
/// Pages read ahead (pages that were not cached yet).
pub(crate) static PREFETCHED: AtomicU64 = AtomicU64::new(0);
/// Pages read only to join two reads into one request: the gaps between a directory's (or the
/// inode tables') pages on the device.
pub(crate) static GAP: AtomicU64 = AtomicU64::new(0);
/// Pages read ahead that the file system used afterwards.
pub(crate) static USED: AtomicU64 = AtomicU64::new(0);
/// Pages read ahead that were not used (or were evicted unused).
pub(crate) static WASTED: AtomicU64 = AtomicU64::new(0);
/// Times a directory was left alone for a while because its pages went unused.
pub(crate) static BACKOFFS: AtomicU64 = AtomicU64::new(0);
/// Pages of inodes read ahead (statahead).
pub(crate) static STATAHEAD: AtomicU64 = AtomicU64::new(0);
/// Of those, pages the file system looked up afterwards.
pub(crate) static STATAHEAD_USED: AtomicU64 = AtomicU64::new(0);
/// Names looked up ahead of the reader (statahead on ext4).
pub(crate) static STATAHEAD_LOOKUPS: AtomicU64 = AtomicU64::new(0);
/// Times statahead stopped for a while on a directory because its inode pages went unused.
pub(crate) static STATAHEAD_BACKOFFS: AtomicU64 = AtomicU64::new(0);
/// Listings started on a directory whose pages were all cached: nothing to read.
pub(crate) static WARM: AtomicU64 = AtomicU64::new(0);

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Creates `/sys/kernel/debug/dirra/` with a file per counter.
pub(crate) fn register() -> debugfs::Dir {
    let dir = debugfs::Dir::new(c_str!("dirra"), None);
    dir.add_u64(c_str!("dirs_seen"), &DIRS);
    dir.add_u64(c_str!("ios_issued"), &IOS);
    dir.add_u64(c_str!("pages_prefetched"), &PREFETCHED);
    dir.add_u64(c_str!("gap_pages"), &GAP);
    dir.add_u64(c_str!("pages_used"), &USED);
    dir.add_u64(c_str!("pages_wasted"), &WASTED);
    dir.add_u64(c_str!("backoffs"), &BACKOFFS);
    dir.add_u64(c_str!("dirs_warm"), &WARM);
    dir.add_u64(c_str!("statahead_pages"), &STATAHEAD);
    dir.add_u64(c_str!("statahead_used"), &STATAHEAD_USED);
    dir.add_u64(c_str!("statahead_lookups"), &STATAHEAD_LOOKUPS);
    dir.add_u64(c_str!("statahead_backoffs"), &STATAHEAD_BACKOFFS);
    dir
}
