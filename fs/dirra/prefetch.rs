// SPDX-License-Identifier: GPL-2.0

//! Reading directories ahead, per file system, and auditing what was read.

use crate::{ext4, statahead, stats, EXT2, EXT4, GAP, INFLIGHT, STATAHEAD, WINDOW};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{
    inode::{Inode, SuperBlock},
    new_mutex,
    page::PAGE_SHIFT,
    pagecache::{AddressSpace, DevicePage, PageState},
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

/// How many directories have pages read ahead that were not audited yet.
static AUDIT_DUE: AtomicUsize = AtomicUsize::new(0);

/// Whether some directory has pages read ahead that are still to be audited: until then, the
/// start and the end of every listing are worth an event.
///
/// Context: any (called from the probe).
pub(crate) fn audit_due() -> bool {
    AUDIT_DUE.load(Ordering::Relaxed) != 0
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

    /// Whether every page of the directory is surely cached, judged from what can be read in
    /// the probe: only for `DirPages`, where the directory's mapping holds exactly its pages
    /// (a page read ahead but not read yet also counts: it is on its way).
    ///
    /// Context: any (called from the probe).
    pub(crate) fn all_cached_hint(self, dir: &Inode) -> bool {
        match self {
            Self::DirPages => dir.mapping().nr_pages() >= self.units(dir),
            Self::DevBlocks => false,
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
        // Logical blocks in the order the reader wants them, if not 0, 1, 2...
        let mut order = KVec::new();
        let shift = match self {
            Self::DirPages => 0,
            Self::DevBlocks => {
                let bits = dir.super_block().blocksize_bits();
                let Ok(hashed) =
                    ext4::block_map(mapping, bits, dir.ino(), units as usize, &mut blocks)
                else {
                    return units;
                };
                // A hashed directory is read in hash order: read it ahead in that order, then
                // whatever the walk of its tree missed.
                if hashed && ext4::htree_order(mapping, bits, &blocks, &mut order).is_ok() {
                    let mut seen = KVec::from_elem(false, blocks.len(), GFP_KERNEL).ok();
                    for &b in order.iter() {
                        if let Some(s) = seen.as_mut().and_then(|s| s.get_mut(b as usize)) {
                            *s = true;
                        }
                    }
                    if let Some(seen) = seen {
                        for (b, &s) in seen.iter().enumerate() {
                            if !s && order.push(b as u64, GFP_KERNEL).is_err() {
                                break;
                            }
                        }
                    }
                }
                // Blocks are at most a page: ext4 in 6.12 refuses larger ones.
                PAGE_SHIFT as u32 - bits.min(PAGE_SHIFT as u32)
            }
        };
        let mut unit = from;
        while unit < units && pages.len() < window {
            let logical = if order.len() as u64 == units {
                order[unit as usize]
            } else {
                unit
            };
            let page = match self {
                Self::DirPages => Some(logical),
                Self::DevBlocks => match blocks.get(logical as usize) {
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
    /// Pages of inodes read ahead in this listing (statahead, on the block device), not audited
    /// yet.
    inode_pages: KVec<u64>,
    /// No statahead before this time (ms, monotonic).
    statahead_backoff_until: i64,
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
                    inode_pages: KVec::new(),
                    statahead_backoff_until: 0,
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
        let due = table
            .dirs
            .iter()
            .filter(|d| !d.pages.is_empty() || !d.inode_pages.is_empty())
            .count();
        AUDIT_DUE.store(due, Ordering::Relaxed);
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
            if let Some(dev) = dir.super_block().bdev_mapping() {
                audit_statahead(entry, dev);
            }
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
        // Before the reads: the listing may end while they are in flight, and its end must
        // then come here to be audited (handle() sets the exact count afterwards).
        AUDIT_DUE.fetch_add(1, Ordering::Relaxed);
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
    let used = count_used(&entry.pages, mapping, complete);
    let total = entry.pages.len() as u64;
    stats::add(&stats::USED, used);
    stats::add(&stats::WASTED, total - used);
    entry.pages = KVec::new();
    if low_hit_rate(used, total) {
        entry.backoff_until = Ktime::ktime_get().to_ms() + BACKOFF_MS;
        stats::add(&stats::BACKOFFS, 1);
    }
}

/// Counts how many inode pages read ahead were used (looked up by the file system since), and
/// stops statahead for a while on a directory whose inode pages mostly were not: its listings
/// are not followed by a `stat()` of each entry.
fn audit_statahead(entry: &mut Dir, dev: &AddressSpace) {
    if entry.inode_pages.is_empty() {
        return;
    }
    let used = count_used(&entry.inode_pages, dev, false);
    let total = entry.inode_pages.len() as u64;
    stats::add(&stats::STATAHEAD_USED, used);
    entry.inode_pages = KVec::new();
    if low_hit_rate(used, total) {
        entry.statahead_backoff_until = Ktime::ktime_get().to_ms() + BACKOFF_MS;
        stats::add(&stats::STATAHEAD_BACKOFFS, 1);
    }
}

/// How many of `pages` were used: marked accessed, or (`complete`) still cached and read.
fn count_used(pages: &[u64], mapping: &AddressSpace, complete: bool) -> u64 {
    let mut used = 0u64;
    for &page in pages {
        match mapping.page_state(page) {
            PageState::Cached { used: true, .. } => used += 1,
            PageState::Cached { uptodate: true, .. } if complete => used += 1,
            _ => {}
        }
    }
    used
}

/// Whether `used` out of `total` pages read ahead is too few to go on: a back-off.
fn low_hit_rate(used: u64, total: u64) -> bool {
    total >= MIN_AUDITED && used * 100 < total * MIN_HIT_PERCENT
}

/// Reads ahead the next window of `dir`: the pages not cached yet, sorted by position, in batches
/// of at most `inflight` pages, each batch waited for before the next one starts.
fn read_window(mech: Mechanism, dir: &Inode, mapping: &AddressSpace, entry: &mut Dir) {
    let window = WINDOW.get().value() as usize;
    let inflight = inflight_for(dir.super_block().bdev_mapping());
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
    // In the reader's order (collect() made it so).
    let file = (mech == Mechanism::DirPages).then_some(dir);
    let n = read_pages(mapping, file, &todo, inflight, &mut entry.pages);
    stats::add(&stats::PREFETCHED, n);

    if STATAHEAD.get() && Ktime::ktime_get().to_ms() >= entry.statahead_backoff_until {
        // On ext4 only: ext2 looks a name up by scanning the directory from where its last
        // lookup matched, which a second scanner moving the other way would defeat for both.
        let lookups = mech == Mechanism::DevBlocks;
        statahead::read(
            dir,
            mapping,
            &pages,
            window,
            inflight,
            lookups,
            &mut entry.inode_pages,
        );
    }
}

/// Pages a read spans at most, gaps included (256 KiB with 4 KiB pages), unless the device
/// takes less in one request.
const MAX_READ_PAGES: u64 = 64;

/// One read of [`read_pages`]: device positions `first..end` (pages for a block device's page
/// cache, file system blocks for a file's), which hold the pages `sorted[from..to]` the reader
/// wants (the rest is gap), the first of which it wants at `rank`.
struct Run {
    first: u64,
    end: u64,
    from: usize,
    to: usize,
    rank: usize,
}

/// Reads ahead `pages` (not cached, in the order the reader will want them) of `mapping`, keeping
/// at most `inflight` reads in flight: each new read waits for the oldest one first. `file` is
/// the file whose own page cache `mapping` is (ext2 directories), or `None` for a block device's
/// page cache. Appends the pages to `done`; returns how many.
///
/// Pages near each other on the device are read together, wherever they are in the reader's
/// order: on a device that serves one request at a time, what a listing costs is the number of
/// requests, and one request of many pages costs about what one of a single page does. Two
/// pages at most `gap` pages apart are read in one request that spans the gap, up to
/// [`MAX_READ_PAGES`] pages (or the device's largest request) in all: round-robin creation
/// interleaves directories block by block, so a directory's blocks are rarely adjacent but
/// often a block or two apart. A gap page costs its transfer (microseconds on a disk or an SSD),
/// a request its fixed cost (a seek, a command, the device's latency), so a small gap is cheaper
/// to read than to skip. Gap pages are read into scratch memory and dropped
/// ([`AddressSpace::prepare_read`]), and counted apart ([`stats::GAP`]).
///
/// Every page of every read is put in the page cache (locked) before the first read goes out,
/// then the reads go out in the order of the first page the reader wants from each: a reader
/// that gets ahead waits for the read that has its page instead of reading it alone, which on a
/// device that serves one request at a time would cost a request of its own and split dirra's
/// reads in two. So the reader waits at most for the reads of one window (at most `window`
/// pages), and only for reads that hold a page it wants no later than its own.
/// `inflight` should not exceed what the device's queue holds ([`AddressSpace::queue_depth`]): a
/// submitter that waits for a free request slot delays every read behind it.
pub(crate) fn read_pages(
    mapping: &AddressSpace,
    file: Option<&Inode>,
    pages: &[u64],
    inflight: usize,
    done: &mut KVec<u64>,
) -> u64 {
    let inflight = inflight.max(1);
    // Blocks per page, as a shift, for a file; and so device positions per page.
    let shift = match file {
        Some(file) => match (PAGE_SHIFT as u32).checked_sub(file.super_block().blocksize_bits()) {
            Some(shift) => Some(shift),
            None => return 0,
        },
        None => None,
    };
    let unit = 1u64 << shift.unwrap_or(0);
    let locate = |page: u64| match (file, shift) {
        (Some(file), Some(shift)) => device_block(file, page, shift),
        _ => Some(page),
    };
    let max_pages = mapping
        .max_request_pages()
        .map_or(MAX_READ_PAGES, |m| m.clamp(1, MAX_READ_PAGES));
    let max_span = max_pages * unit;
    let max_gap = u64::from(GAP.get().value()) * unit;
    // Pages by device position, and when the reader wants them (by page); pages the file system
    // cannot place are read ahead alone, the usual way.
    let mut sorted: KVec<DevicePage> = KVec::new();
    let mut ranks = KVec::new();
    let mut alone = KVec::new();
    for (rank, &page) in pages.iter().enumerate() {
        let pushed = match locate(page) {
            Some(block) => sorted
                .push(DevicePage { block, index: page }, GFP_KERNEL)
                .is_ok(),
            None => alone.push(page, GFP_KERNEL).is_ok(),
        };
        if !pushed || ranks.push((page, rank), GFP_KERNEL).is_err() {
            break;
        }
    }
    sorted.sort_unstable();
    ranks.sort_unstable();
    let rank_of = |page: u64| match ranks.binary_search_by_key(&page, |&(p, _)| p) {
        Ok(i) => ranks[i].1,
        Err(_) => usize::MAX,
    };

    // Runs of pages near each other; `sorted` keeps the pages that are in one.
    let mut runs: KVec<Run> = KVec::new();
    let mut kept = 0;
    for i in 0..sorted.len() {
        let page = sorted[i];
        let rank = rank_of(page.index);
        if let Some(last) = runs.last_mut() {
            if page.block < last.end {
                // A page listed twice, or overlapping another: skipped.
                continue;
            }
            if page.block - last.end <= max_gap && page.block + unit - last.first <= max_span {
                last.end = page.block + unit;
                sorted[kept] = page;
                kept += 1;
                last.to = kept;
                last.rank = last.rank.min(rank);
                continue;
            }
        }
        sorted[kept] = page;
        let run = Run {
            first: page.block,
            end: page.block + unit,
            from: kept,
            to: kept + 1,
            rank,
        };
        kept += 1;
        if runs.push(run, GFP_KERNEL).is_err() {
            break;
        }
    }
    runs.sort_unstable_by_key(|r| r.rank);

    // Every page in the page cache first, locked; then the reads, in the reader's order. No
    // allocation while pages are locked but their reads not sent, but in `prepare_read` (which
    // keeps reclaim out of file systems, as readahead does).
    let mut reads = KVec::new();
    if reads.reserve(runs.len(), GFP_KERNEL).is_err() || done.reserve(kept, GFP_KERNEL).is_err() {
        return 0;
    }
    for run in runs.iter() {
        let read = mapping.prepare_read(&sorted[run.from..run.to]);
        // Cannot fail: the capacity is there.
        let _ = reads.push(read.ok().flatten(), GFP_KERNEL);
    }
    let wait_run = |run: &Run| {
        for page in sorted[run.from..run.to].iter() {
            mapping.wait_for_page(page.index);
        }
    };
    let mut count = 0u64;
    // Reads `oldest..` are in flight.
    let mut oldest = 0;
    for (i, (run, read)) in runs.iter().zip(reads).enumerate() {
        while i - oldest >= inflight {
            wait_run(&runs[oldest]);
            oldest += 1;
        }
        if let Some(read) = read {
            stats::add(&stats::IOS, 1);
            stats::add(&stats::GAP, read.scratch_pages());
            read.submit();
        }
        for page in sorted[run.from..run.to].iter() {
            if done.push(page.index, GFP_KERNEL).is_ok() {
                count += 1;
            }
        }
    }
    for run in runs.iter().skip(oldest) {
        wait_run(run);
    }
    // Pages the file system cannot place: one read each.
    for &page in alone.iter() {
        if mapping.readahead(page, 1).is_ok() {
            stats::add(&stats::IOS, 1);
            if done.push(page, GFP_KERNEL).is_ok() {
                count += 1;
            }
        }
    }
    count
}

/// The device block of page `page` of `file`, if all its blocks (`1 << shift` of them) are
/// consecutive on the device.
fn device_block(file: &Inode, page: u64, shift: u32) -> Option<u64> {
    let first = file.bmap(page << shift)?;
    for k in 1..1u64 << shift {
        if file.bmap((page << shift) + k)? != first + k {
            return None;
        }
    }
    Some(first)
}

/// The number of reads to keep in flight on the device under `mapping`: the `inflight`
/// parameter, but no more than the device's queue holds.
pub(crate) fn inflight_for(dev: Option<&AddressSpace>) -> usize {
    let inflight = INFLIGHT.get().value() as usize;
    match dev.and_then(|d| d.queue_depth()) {
        Some(depth) => inflight.min(depth.max(1) as usize),
        None => inflight,
    }
}
