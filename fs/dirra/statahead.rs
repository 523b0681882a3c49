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

/// Reads ahead the inode-table pages of the entries in `pages` (pages of `mapping`, which hold
/// directory blocks of `dir`), at most `window` of them, `inflight` at a time; appends the
/// pages read to `done`.
///
/// Context: may sleep.
pub(crate) fn read(
    dir: &Inode,
    mapping: &AddressSpace,
    pages: &[u64],
    window: usize,
    inflight: usize,
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
    let mut wanted = KVec::new();
    let mut last = None;
    for &page in pages {
        // The page was just read (or found cached): this copies it.
        if mapping.read(page << PAGE_SHIFT, &mut buf).is_err() {
            continue;
        }
        for block in buf.chunks(1 << bits) {
            ext4::entry_inodes(block, |ino| {
                if let Some(b) = tables.block_of(ino) {
                    let p = b >> shift;
                    // Entries next to each other often share a page: skip the repeats early.
                    if last != Some(p) && wanted.push(p, GFP_KERNEL).is_ok() {
                        last = Some(p);
                    }
                }
            });
        }
        if wanted.len() > 4 * window {
            break;
        }
    }
    wanted.sort_unstable();
    let mut todo = KVec::new();
    let mut last = None;
    for &p in wanted.iter() {
        if todo.len() >= window {
            break;
        }
        if last != Some(p)
            && dev.page_state(p) == PageState::Absent
            && todo.push(p, GFP_KERNEL).is_err()
        {
            break;
        }
        last = Some(p);
    }
    let n = read_pages(dev, &todo, inflight, done);
    stats::add(&stats::STATAHEAD, n);
}
