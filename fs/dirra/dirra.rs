// SPDX-License-Identifier: GPL-2.0

//! dirra: directory readahead for `getdents()`.
//!
//! When a program starts listing a large directory, dirra reads the directory's blocks ahead
//! with many reads in flight, so that the file system finds them in memory instead of reading
//! them one at a time while the program waits. It watches `iterate_dir()` ([`ReaddirWatch`]),
//! and does the reading on a workqueue ([`prefetch`]); it never touches what `getdents()`
//! returns. The way to reach a directory's blocks depends on the file system
//! ([`prefetch::Mechanism`]). Whether the pages read ahead were used is checked when the
//! listing ends or starts again; a directory whose pages go unused is left alone for a while.

use kernel::{
    c_str, debugfs,
    file::File,
    module_param::RangedU32,
    prelude::*,
    readdir_watch::{ReaddirEvent, ReaddirHandler, ReaddirWatch},
};

mod ext4;
mod prefetch;
mod statahead;
mod stats;

module! {
    type: Dirra,
    name: "dirra",
    author: "Ferrite developers",
    description: "Directory readahead for getdents()",
    license: "GPL",
}

kernel::module_param!(ENABLE: bool = true, module: "dirra", name: "enable", perm: 0o644,
    "Read large directories ahead when they are listed (1) or leave them alone (0)");
kernel::module_param!(EXT2: bool = true, module: "dirra", name: "ext2", perm: 0o644,
    "Read ahead on ext2 (directories in their own page cache)");
kernel::module_param!(EXT4: bool = true, module: "dirra", name: "ext4", perm: 0o644,
    "Read ahead on ext4 and ext3 (directory blocks in the block device's page cache)");
kernel::module_param!(MIN_SIZE: RangedU32<4096, 1073741824> = 65536, module: "dirra",
    name: "min_size", perm: 0o644,
    "Smallest directory read ahead, in bytes (4096 to 1 GiB)");
kernel::module_param!(WINDOW: RangedU32<1, 65536> = 2048, module: "dirra", name: "window",
    perm: 0o644, "Pages read ahead per directory at a time (1 to 65536)");
kernel::module_param!(INFLIGHT: RangedU32<1, 1024> = 64, module: "dirra", name: "inflight",
    perm: 0o644, "Reads in flight at once, per directory and in total (1 to 1024)");

kernel::module_param!(GAP: RangedU32<0, 63> = 8, module: "dirra", name: "gap", perm: 0o644,
    "Pages between two pages to read ahead that are read too, to make one request of two (0 to 63)");

kernel::module_param!(STATAHEAD: bool = true, module: "dirra", name: "statahead", perm: 0o644,
    "Also read ahead the inodes of the entries of the directory blocks read ahead (1) or not (0)");

struct Prefetcher {
    dirs: prefetch::Dirs,
}

impl ReaddirHandler for Prefetcher {
    fn want(&self, file: &File) -> bool {
        // Probe context: only reads of fields, parameters and atomics.
        let dir = file.inode();
        if !ENABLE.get() || !dir.is_dir() {
            return false;
        }
        let size = dir.size();
        if size < i64::from(MIN_SIZE.get().value()) {
            return false;
        }
        let Some(mech) = prefetch::Mechanism::of(dir.super_block()) else {
            return false;
        };
        // The start and the end of a listing, and the calls in between only while some
        // directory has more windows to read.
        let pos = file.pos();
        let audit_due = prefetch::audit_due();
        if pos == 0 && !audit_due && mech.all_cached_hint(dir) {
            // Warm: counted here, no work queued (cached listings must stay as fast).
            stats::add(&stats::DIRS, 1);
            stats::add(&stats::WARM, 1);
            return false;
        }
        // The end of a listing only matters for auditing pages read ahead.
        pos == 0 || (audit_due && mech.at_end(pos, size)) || prefetch::more_to_read()
    }

    fn handle(&self, event: ReaddirEvent) {
        self.dirs.handle(&event);
    }
}

struct Dirra {
    // Dropped first: waits for the work in flight.
    _watch: ReaddirWatch<Prefetcher>,
    _stats: debugfs::Dir,
}

impl kernel::Module for Dirra {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let stats = stats::register();
        let prefetcher = Prefetcher {
            dirs: prefetch::Dirs::new()?,
        };
        let watch = ReaddirWatch::new(c_str!("dirra"), prefetcher)?;
        Ok(Self {
            _watch: watch,
            _stats: stats,
        })
    }
}
