// SPDX-License-Identifier: GPL-2.0

//! Reading ahead the inodes of a directory's entries ("statahead"), for `ls -l`, `find` and
//! `git status`, which `stat()` each entry they list.
//!
//! ext2 and ext4 read an inode by reading the block of the inode table that holds it, through
//! the block device's page cache (`sb_bread()`, `__ext4_get_inode_loc()`), one block at a time
//! as each entry is looked up. dirra reads those blocks ahead, for every entry of the window of
//! directory blocks it has just read: the inode numbers come from the entries themselves, the
//! blocks from the group descriptors ([`ext4::InodeTables`]).

use crate::{ext4, prefetch::read_pages, stats};
use kernel::{
    inode::Inode,
    page::{PAGE_SHIFT, PAGE_SIZE},
    pagecache::{AddressSpace, PageState},
    prelude::*,
};

/// Inode-table pages read ahead per window of directory pages at most, in windows: inodes of
/// directories filled at the same time interleave in the inode tables, so a directory page's
/// entries may need more inode pages than there are directory pages.
const WINDOWS: usize = 4;

/// Reads ahead the inode-table pages of the entries in `pages` (pages of `mapping`, which hold
/// directory blocks of `dir`, in the order the reader reads them), at most [`WINDOWS`] times
/// `window` of them, `window` and `inflight` at a time, in the order the entries come; appends
/// the pages read to `done`. Then, with `lookups`, looks the entries up ahead of the reader
/// ([`look_up`]).
///
/// Context: may sleep.
pub(crate) fn read(
    dir: &Inode,
    mapping: &AddressSpace,
    pages: &[u64],
    window: usize,
    inflight: usize,
    lookups: bool,
    done: &mut KVec<u64>,
) {
    let sb = dir.super_block();
    let Some(dev) = sb.bdev_mapping() else {
        return;
    };
    let bits = sb.blocksize_bits();
    if bits > PAGE_SHIFT as u32 {
        return;
    }
    let Ok(mut tables) = ext4::InodeTables::new(dev, bits) else {
        return;
    };
    let Ok(mut buf) = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL) else {
        return;
    };
    let shift = PAGE_SHIFT as u32 - bits;
    let limit = WINDOWS * window;
    let max_names = NAMES_PER_PAGE * window;
    let mut names = Names {
        bytes: KVec::new(),
        ends: KVec::new(),
    };
    // (inode page, rank of the first entry that needs it).
    let mut wanted = KVec::new();
    let mut last = None;
    let mut rank = 0usize;
    for &page in pages {
        // The page was just read (or found cached): this copies it.
        if mapping.read(page << PAGE_SHIFT, &mut buf).is_err() {
            continue;
        }
        for block in buf.chunks(1 << bits) {
            ext4::entries(block, |ino, name| {
                if lookups && names.len() < max_names && name != b"." && name != b".." {
                    names.push(name);
                }
                if let Some(b) = tables.block_of(ino) {
                    let p = b >> shift;
                    // Entries next to each other often share a page: skip the repeats early.
                    if last != Some(p) && wanted.push((p, rank), GFP_KERNEL).is_ok() {
                        last = Some(p);
                        rank += 1;
                    }
                }
            });
        }
        if wanted.len() >= 2 * limit {
            distinct(&mut wanted);
            if wanted.len() >= limit {
                break;
            }
        }
    }
    distinct(&mut wanted);
    // In the order the entries come, the first `limit` pages.
    wanted.sort_unstable_by_key(|&(_, rank)| rank);
    let mut todo = KVec::new();
    for &(p, _) in wanted.iter().take(limit) {
        if dev.page_state(p) == PageState::Absent && todo.push(p, GFP_KERNEL).is_err() {
            break;
        }
    }
    let mut n = 0;
    for chunk in todo.chunks(window.max(1)) {
        n += read_pages(dev, None, chunk, inflight, done);
    }
    stats::add(&stats::STATAHEAD, n);
    if lookups {
        look_up(dir, &names);
    }
}

/// Names looked up ahead per window of directory pages at most.
const NAMES_PER_PAGE: usize = 16;
/// Of the first names the reader gets, how many it must have looked up (`stat()`) already for
/// dirra to look the others up.
const PROBE_NAMES: usize = 8;

/// The names of a directory's entries, in the order the reader gets them.
struct Names {
    bytes: KVec<u8>,
    ends: KVec<usize>,
}

impl Names {
    /// Appends `name`; out of memory, leaves the names as they were.
    fn push(&mut self, name: &[u8]) {
        if self.ends.reserve(1, GFP_KERNEL).is_ok()
            && self.bytes.extend_from_slice(name, GFP_KERNEL).is_ok()
        {
            // Cannot fail: the capacity is there.
            let _ = self.ends.push(self.bytes.len(), GFP_KERNEL);
        }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// Looks up ahead of the reader the names it will `stat()`, on a second CPU, so that its own
/// lookups find them in the dentry cache: with every inode-table block read ahead, what is left
/// of a cold `ls -l` is the work of the lookups themselves (finding the name in the directory,
/// reading the inode into an in-memory one), which under emulation costs as much as the
/// waiting did. Only if the reader looks its names up (most of the first [`PROBE_NAMES`] it
/// got are cached already), and from the last name backwards, until a name the reader has
/// reached: the reader and dirra meet in the middle, and neither does the other's work twice.
fn look_up(dir: &Inode, names: &Names) {
    // Names on the disk are not the names of an encrypted directory.
    if dir.is_encrypted() {
        return;
    }
    let Some(dentry) = dir.dir_dentry() else {
        return;
    };
    let first = names.len().min(PROBE_NAMES);
    let seen = (0..first)
        .filter(|&i| dentry.is_cached(names.get(i)))
        .count();
    if first == 0 || seen * 2 < first {
        return;
    }
    let mut n = 0;
    for i in (first..names.len()).rev() {
        let name = names.get(i);
        if dentry.is_cached(name) || dentry.lookup(name).is_err() {
            break;
        }
        n += 1;
    }
    stats::add(&stats::STATAHEAD_LOOKUPS, n);
}

/// Keeps one of each page of `wanted`, with its lowest rank.
fn distinct(wanted: &mut KVec<(u64, usize)>) {
    wanted.sort_unstable();
    let mut kept = KVec::new();
    for &(p, rank) in wanted.iter() {
        if kept.last().map(|&(q, _)| q) != Some(p) && kept.push((p, rank), GFP_KERNEL).is_err() {
            // Out of memory: keep what was there.
            return;
        }
    }
    *wanted = kept;
}
