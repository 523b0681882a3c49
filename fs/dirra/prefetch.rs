// SPDX-License-Identifier: GPL-2.0

//! Reading directories ahead, per file system, and auditing what was read.

use crate::{ext4, stats, EXT2, EXT4, INFLIGHT, WINDOW};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{
    inode::{Inode, SuperBlock},
    new_mutex,
    page::PAGE_SHIFT,
    pagecache::{with_plug, AddressSpace, PageState},
    prelude::*,
    readdir_watch::ReaddirEvent,
    sync::Mutex,
    time::Ktime,
};

/// How many directories have windows left to read in their current listing.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Whether some directory has windows left to read: only then are the calls in the middle of
/// listings worth an event.
///
/// Context: any (called from the probe).
pub(crate) fn more_to_read() -> bool {
    PENDING.load(Ordering::Relaxed) != 0
}

/// Directories remembered at once; the least recently listed is forgotten first.
const MAX_DIRS: usize = 64;
/// A directory of which fewer than this percentage of pages read ahead were used...
const MIN_HIT_PERCENT: u64 = 50;
/// ...(out of at least this many pages)...
const MIN_AUDITED: u64 = 16;
/// ...is left alone for this long.
const BACKOFF_MS: i64 = 30_000;

/// ext4's end-of-directory positions for hashed directories, for 64-bit and 32-bit hashes.
const EXT4_HTREE_EOF_64: i64 = i64::MAX;
const EXT4_HTREE_EOF_32: i64 = 0x7fff_ffff;

/// Where a file system keeps directory blocks, and so how to read them ahead.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// In the directory's own page cache (ext2, and minix, sysv, ufs...): read ahead there; the
    /// page index is the offset in the directory.
    DirPages,
    /// In the block device's page cache, as buffer heads (ext4, ext3): find each directory
    /// block on the device ([`ext4::block_map`]), read ahead the device's pages that hold them.
    DevBlocks,
}

impl Mechanism {
    /// The mechanism for a file system, if dirra handles it and it is enabled.
    ///
    /// Context: any (called from the probe).
    pub(crate) fn of(sb: &SuperBlock) -> Option<Self> {
        match sb.fs_name().as_bytes() {
            b"ext2" if EXT2.get() => Some(Self::DirPages),
            b"ext4" | b"ext3" if EXT4.get() => Some(Self::DevBlocks),
            _ => None,
        }
    }

    fn mapping<'a>(self, dir: &'a Inode) -> Option<&'a AddressSpace> {
        match self {
            Self::DirPages => Some(dir.mapping()),
            Self::DevBlocks => dir.super_block().bdev_mapping(),
        }
    }

    /// Whether a read starting at `pos` is the final one of a listing, which returns nothing.
    ///
    /// Context: any (called from the probe).
    pub(crate) fn at_end(self, pos: i64, size: i64) -> bool {
        match self {
            Self::DirPages => pos >= size,
            // A hashed directory's position is a hash; linear ones get no end event.
            Self::DevBlocks => pos == EXT4_HTREE_EOF_64 || pos == EXT4_HTREE_EOF_32,
        }
    }

    /// Units the directory has: pages for `DirPages`, file system blocks for `DevBlocks`.
    fn units(self, dir: &Inode) -> u64 {
        let size = dir.size().max(0) as u64;
        let shift = match self {
            Self::DirPages => PAGE_SHIFT as u32,
            Self::DevBlocks => dir.super_block().blocksize_bits(),
        };
        size.div_ceil(1 << shift)
    }

    /// Appends to `pages` the page indices in `mapping` of units `from..`, until `window` pages
    /// or the end of the directory; returns the next unit.
    fn collect(
        self,
        dir: &Inode,
        mapping: &AddressSpace,
        from: u64,
        window: usize,
        pages: &mut KVec<u64>,
    ) -> u64 {
        let units = self.units(dir);
        let mut blocks = KVec::new();
        let shift = match self {
            Self::DirPages => 0,
            Self::DevBlocks => {
                let bits = dir.super_block().blocksize_bits();
                if ext4::block_map(mapping, bits, dir.ino(), units as usize, &mut blocks).is_err() {
                    return units;
                }
                // Blocks are at most a page: ext4 in 6.12 refuses larger ones.
                PAGE_SHIFT as u32 - bits.min(PAGE_SHIFT as u32)
            }
        };
        let mut unit = from;
        while unit < units && pages.len() < window {
            let page = match self {
                Self::DirPages => Some(unit),
                Self::DevBlocks => match blocks.get(unit as usize) {
                    Some(&block) if block != 0 => Some(block >> shift),
                    _ => None,
                },
            };
            if let Some(page) = page {
                if pages.last() != Some(&page) && pages.push(page, GFP_KERNEL).is_err() {
                    break;
                }
            }
            unit += 1;
        }
        unit
    }
}

/// What dirra remembers of a directory.
struct Dir {
    /// The directory: its file system's device, inode number and generation, which survive a
    /// remount and tell a new file system on the same device apart.
    dev: u32,
    ino: u64,
    generation: u32,
    /// The next unit to read ahead in this listing.
    next: u64,
    /// Pages read ahead in this listing, not audited yet.
    pages: KVec<u64>,
    /// Every page the directory had in its last complete listing, to tell a warm directory
    /// cheaply; with the directory size it was for.
    all: KVec<u64>,
    all_size: i64,
    /// No reading ahead before this time (ms, monotonic).
    backoff_until: i64,
    /// When the directory was last listed, for forgetting the oldest.
    last_seen: u64,
    /// The current listing has windows left to read.
    pending: bool,
}

struct Table {
    dirs: KVec<Dir>,
    clock: u64,
}

impl Table {
    /// The entry of `dir`, created (forgetting the least recently seen) if needed.
    fn entry(&mut self, dir: &Inode) -> Result<&mut Dir> {
        let dev = dir.super_block().dev();
        let ino = dir.ino();
        let generation = dir.generation();
        self.clock += 1;
        let i = match self
            .dirs
            .iter()
            .position(|d| d.dev == dev && d.ino == ino && d.generation == generation)
        {
            Some(i) => i,
            None => {
                let new = Dir {
                    dev,
                    ino,
                    generation,
                    next: 0,
                    pages: KVec::new(),
                    all: KVec::new(),
                    all_size: -1,
                    backoff_until: 0,
                    last_seen: 0,
                    pending: false,
                };
                if self.dirs.len() < MAX_DIRS {
                    self.dirs.push(new, GFP_KERNEL)?;
                    self.dirs.len() - 1
                } else {
                    let (oldest, _) = self
                        .dirs
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, d)| d.last_seen)
                        .ok_or(EINVAL)?;
                    self.dirs[oldest] = new;
                    oldest
                }
            }
        };
        let entry = &mut self.dirs[i];
        entry.last_seen = self.clock;
        Ok(entry)
    }
}

/// The directories dirra works on.
pub(crate) struct Dirs {
    table: Pin<KBox<Mutex<Table>>>,
}

impl Dirs {
    pub(crate) fn new() -> Result<Self> {
        let table = Table {
            dirs: KVec::new(),
            clock: 0,
        };
        Ok(Self {
            table: KBox::pin_init(new_mutex!(table, "dirra_table"), GFP_KERNEL)?,
        })
    }

    /// Handles one `iterate_dir()` call on a directory dirra wanted.
    pub(crate) fn handle(&self, event: &ReaddirEvent) {
        let mut table = self.table.lock();
        Self::handle_locked(&mut table, event);
        let pending = table.dirs.iter().filter(|d| d.pending).count();
        PENDING.store(pending, Ordering::Relaxed);
    }

    fn handle_locked(table: &mut Table, event: &ReaddirEvent) {
        let dir = &*event.dir;
        // Parameters may have changed since the probe.
        let Some(mech) = Mechanism::of(dir.super_block()) else {
            return;
        };
        let Some(mapping) = mech.mapping(dir) else {
            return;
        };
        let Ok(entry) = table.entry(dir) else {
            return;
        };
        let size = dir.size();
        let start = event.pos == 0;
        let end = mech.at_end(event.pos, size);
        if start || end {
            audit(entry, mapping, end);
            entry.pending = false;
        }
        if end {
            return;
        }
        if start {
            stats::add(&stats::DIRS, 1);
            if entry.all_size == size && all_cached(&entry.all, mapping) {
                // Warm: everything is cached already; skip the block map walk.
                stats::add(&stats::WARM, 1);
                entry.next = u64::MAX;
                return;
            }
            entry.next = 0;
            entry.all = KVec::new();
            entry.all_size = -1;
        } else if !entry.pending {
            // Done, or a listing that started before dirra saw it.
            return;
        }
        if Ktime::ktime_get().to_ms() < entry.backoff_until {
            return;
        }
        read_window(mech, dir, mapping, entry);
        entry.pending = entry.next < mech.units(dir);
        if !entry.pending {
            entry.all_size = size;
        }
    }
}

fn all_cached(pages: &[u64], mapping: &AddressSpace) -> bool {
    !pages.is_empty()
        && pages
            .iter()
            .all(|&p| mapping.page_state(p) != PageState::Absent)
}

/// Counts how many pages read ahead in the last listing were used, and backs off from a
/// directory whose pages mostly were not.
///
/// A listing that reached the end (`complete`) read every block of the directory, so each page
/// read ahead that is still cached was used. For one that stopped early, a page counts as used
/// if the page cache marked it accessed; that may miss a few (a page accessed twice before it
/// reached the LRU loses its mark), which only errs towards backing off.
fn audit(entry: &mut Dir, mapping: &AddressSpace, complete: bool) {
    if entry.pages.is_empty() {
        return;
    }
    let mut used = 0u64;
    for &page in entry.pages.iter() {
        match mapping.page_state(page) {
            PageState::Cached { used: true, .. } => used += 1,
            PageState::Cached { uptodate: true, .. } if complete => used += 1,
            _ => {}
        }
    }
    let total = entry.pages.len() as u64;
    stats::add(&stats::USED, used);
    stats::add(&stats::WASTED, total - used);
    entry.pages = KVec::new();
    if total >= MIN_AUDITED && used * 100 < total * MIN_HIT_PERCENT {
        entry.backoff_until = Ktime::ktime_get().to_ms() + BACKOFF_MS;
        stats::add(&stats::BACKOFFS, 1);
    }
}

/// Reads ahead the next window of `dir`: the pages not cached yet, sorted by position, in batches
/// of at most `inflight` pages, each batch waited for before the next one starts.
fn read_window(mech: Mechanism, dir: &Inode, mapping: &AddressSpace, entry: &mut Dir) {
    let window = WINDOW.get().value() as usize;
    let inflight = INFLIGHT.get().value() as usize;
    let mut pages = KVec::new();
    entry.next = mech.collect(dir, mapping, entry.next, window, &mut pages);
    for &page in pages.iter() {
        if entry.all.push(page, GFP_KERNEL).is_err() {
            break;
        }
    }

    let mut todo = KVec::new();
    for &page in pages.iter() {
        if mapping.page_state(page) == PageState::Absent && todo.push(page, GFP_KERNEL).is_err() {
            break;
        }
    }
    todo.sort_unstable();
    let mut last = None;
    let mut unique = KVec::new();
    for &page in todo.iter() {
        if last != Some(page) && unique.push(page, GFP_KERNEL).is_err() {
            break;
        }
        last = Some(page);
    }

    for batch in unique.chunks(inflight) {
        with_plug(|| {
            let mut i = 0;
            while i < batch.len() {
                let mut n = 1;
                while i + n < batch.len() && batch[i + n] == batch[i] + n as u64 {
                    n += 1;
                }
                if mapping.readahead(batch[i], n as u64).is_ok() {
                    stats::add(&stats::IOS, 1);
                }
                i += n;
            }
        });
        for &page in batch {
            mapping.wait_for_page(page);
        }
        stats::add(&stats::PREFETCHED, batch.len() as u64);
        for &page in batch {
            if entry.pages.push(page, GFP_KERNEL).is_err() {
                break;
            }
        }
    }
}
