// SPDX-License-Identifier: GPL-2.0

//! The page cache of a file or block device (`struct address_space`), and reading ahead into it.
//!
//! Readahead starts reads of pages that are not cached yet and returns without waiting for them;
//! [`AddressSpace::wait_for_page`] waits for one to arrive, and [`AddressSpace::page_state`]
//! tells whether a page is cached and whether anybody used it since it was read.
//! [`with_plug`] holds the block requests a thread submits so that they go to the device
//! together, sorted and merged. [`AddressSpace::prepare_read`] claims pages that lie apart on
//! the device for one request that reads what lies between them too and drops it.
//!
//! C headers: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)

use crate::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    bindings,
    error::code::{EINVAL, ENOMEM},
    error::{Error, Result},
    page::{Page, PAGE_SHIFT, PAGE_SIZE},
    types::Opaque,
};
use core::{mem::MaybeUninit, ptr::NonNull};

/// What the page cache holds at one page index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageState {
    /// Nothing is cached there.
    Absent,
    /// A page is cached there.
    Cached {
        /// Its data has been read (the read is not still in flight, and did not fail).
        uptodate: bool,
        /// It was accessed after it was read (referenced or active).
        used: bool,
    },
}

/// Where a page of a page cache lies on its block device, for [`AddressSpace::prepare_read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DevicePage {
    /// The device block of the page's first block, in file system blocks for a file's page
    /// cache (the page's other blocks follow it on the device), in pages for a block device's.
    pub block: u64,
    /// The page's index in the page cache.
    pub index: u64,
}

/// Segments a request built by [`AddressSpace::prepare_read`] holds at most: pages of the
/// file, and pages of scratch memory for what lies between them.
pub const MAX_DEVICE_READ_SEGMENTS: usize = bindings::BIO_MAX_VECS as usize;

/// What a [`DeviceRead`] reads into: the folios it reads (locked, in the page cache, which holds
/// them), and the scratch pages that receive the rest.
struct ReadState {
    folios: KVec<*mut bindings::folio>,
    scratch: KVec<Page>,
}

impl ReadState {
    /// Ends the reads of the folios: unlocks them, up to date if `ok`; a folio left not up to
    /// date is read again by whoever wants it.
    fn end(&self, ok: bool) {
        for &folio in self.folios.iter() {
            // SAFETY: each folio was added to the page cache locked by `prepare_read`, which
            // holds it while it is locked; its read ends here, once.
            unsafe { bindings::folio_end_read(folio, ok) };
        }
    }

    /// Completion of a submitted [`DeviceRead`].
    ///
    /// # Safety
    ///
    /// `bio` must be the request of a [`DeviceRead`] that was submitted, completing.
    unsafe extern "C" fn end_io(bio: *mut bindings::bio) {
        // SAFETY: `bi_private` is the `ReadState` that `submit` leaked for this request, taken
        // back once, here.
        let state = unsafe { KBox::from_raw((*bio).bi_private.cast::<ReadState>()) };
        // SAFETY: the request is complete: its status is final.
        state.end(unsafe { (*bio).bi_status } == 0);
        drop(state);
        // SAFETY: the reference `bio_alloc` gave.
        unsafe { bindings::bio_put(bio) };
    }
}

/// One read request to a block device, prepared by [`AddressSpace::prepare_read`]: its pages are
/// in the page cache already, locked, so that whoever wants one waits for this request instead
/// of reading the page itself; [`DeviceRead::submit`] sends it to the device. Dropped without
/// being submitted, it leaves its pages not up to date: whoever wants one reads it then.
///
/// # Invariants
///
/// `bio` is a request allocated by `bio_alloc`, not submitted, that reads into the folios and
/// scratch pages of `state`; the folios are locked in their page cache.
pub struct DeviceRead {
    bio: NonNull<bindings::bio>,
    state: Option<KBox<ReadState>>,
}

impl DeviceRead {
    /// Pages of the page cache the request reads.
    pub fn pages(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.folios.len() as u64)
    }

    /// Pages of scratch memory the request reads into (and drops): what lies between its pages.
    pub fn scratch_pages(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.scratch.len() as u64)
    }

    /// Sends the request to the device, without waiting for it to complete; returns how many
    /// pages of the page cache it reads. The pages are unlocked (up to date, unless the read
    /// fails) when it completes: [`AddressSpace::wait_for_page`] waits for that.
    ///
    /// Context: may sleep (for a free request slot on the device).
    pub fn submit(mut self) -> u64 {
        let n = self.pages();
        let bio = self.bio.as_ptr();
        if let Some(state) = self.state.take() {
            // SAFETY: `bio` is not submitted (type invariant); `end_io` takes the leaked state
            // back, once, when the request completes, and puts the reference to `bio`.
            unsafe {
                (*bio).bi_private = KBox::into_raw(state).cast();
                (*bio).bi_end_io = Some(ReadState::end_io);
                bindings::submit_bio(bio);
            }
        }
        n
    }
}

impl Drop for DeviceRead {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            state.end(false);
            // SAFETY: not submitted (the state is still here): `bio_alloc`'s reference.
            unsafe { bindings::bio_put(self.bio.as_ptr()) };
        }
    }
}

/// The page cache of one file or block device.
///
/// # Examples
///
/// ```
/// use kernel::{bindings, c_str, file::File, pagecache::{with_plug, DevicePage, PageState}};
///
/// let root = File::open(c_str!("/"), bindings::O_RDONLY | bindings::O_DIRECTORY)?;
/// let mapping = root.inode().mapping();
/// assert_eq!(mapping.page_state(1 << 20), PageState::Absent);
/// // A directory's page cache is not a block device's.
/// assert_eq!(mapping.queue_depth(), None);
/// // Returns at once: nothing to wait for.
/// mapping.wait_for_page(1 << 20);
///
/// match with_plug(|| mapping.readahead(0, 1)) {
///     // A ramfs rootfs "reads" zeroes, at once; nobody used the page yet.
///     Ok(()) => {
///         mapping.wait_for_page(0);
///         let read = PageState::Cached { uptodate: true, used: false };
///         assert_eq!(mapping.page_state(0), read);
///     }
///     // A tmpfs rootfs cannot read pages at all.
///     Err(e) => assert_eq!(e, EINVAL),
/// }
///
/// // Reading goes through the page cache too (ramfs pages read as zeroes).
/// let mut buf = [0xffu8; 16];
/// match mapping.read(4090, &mut buf) {
///     Ok(()) => {
///         assert_eq!(buf, [0; 16]);
///         assert!(mapping.nr_pages() >= 2);
///     }
///     Err(e) => assert_eq!(e, EINVAL),
/// }
///
/// // The root file system has no block device to read from.
/// let page = DevicePage { block: 100, index: 0 };
/// assert!(mapping.prepare_read(&[page]).is_err_and(|e| e == EINVAL));
/// assert!(mapping.prepare_read(&[]).is_err_and(|e| e == EINVAL));
/// assert_eq!(mapping.max_request_pages(), None);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// The mapping is valid: whoever hands out a reference to it keeps its owner (an inode or an
/// open block device) alive.
#[repr(transparent)]
pub struct AddressSpace(Opaque<bindings::address_space>);

// SAFETY: the page cache is designed for concurrent use from any thread.
unsafe impl Send for AddressSpace {}

// SAFETY: every method of `&AddressSpace` uses the page cache's own locking.
unsafe impl Sync for AddressSpace {}

impl AddressSpace {
    /// Creates a reference to the mapping at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a mapping whose owner stays alive for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::address_space) -> &'a AddressSpace {
        // SAFETY: `AddressSpace` is a transparent wrapper of `struct address_space`; the caller
        // guarantees validity.
        unsafe { &*ptr.cast() }
    }

    fn as_raw(&self) -> *mut bindings::address_space {
        self.0.get()
    }

    /// Starts reading the `nr` pages from page index `index` that are not cached yet, without
    /// waiting for them, and without marking them used.
    ///
    /// Fails with `EINVAL` if the mapping cannot read pages (memory-only file systems).
    ///
    /// Context: may sleep (to allocate pages).
    pub fn readahead(&self, index: u64, nr: u64) -> Result {
        let mapping = self.as_raw();
        // SAFETY: the mapping is valid, and `a_ops` is set for every mapping.
        let aops = unsafe { &*(*mapping).a_ops };
        if aops.read_folio.is_none() {
            return Err(EINVAL);
        }
        let mut ra = MaybeUninit::<bindings::file_ra_state>::zeroed();
        let mut ractl = bindings::readahead_control {
            file: core::ptr::null_mut(),
            mapping,
            ra: ra.as_mut_ptr(),
            _index: index as _,
            _nr_pages: 0,
            _batch_count: 0,
            _workingset: false,
            _pflags: 0,
        };
        // SAFETY: `ractl` is what `DEFINE_READAHEAD` builds, for a valid mapping that can read
        // (checked above), with a zeroed readahead state it may update; no file is needed.
        unsafe { bindings::page_cache_ra_unbounded(&mut ractl, nr as _, 0) };
        Ok(())
    }

    /// The block device that holds this page cache's data, and log2 of the size of the blocks
    /// a [`DevicePage`] counts in: the page cache of a block device itself (blocks are pages),
    /// or of a file on a file system on a block device (blocks are the file system's).
    fn device(&self) -> Option<(*mut bindings::block_device, u32)> {
        // SAFETY: the mapping is valid; `host` is its owner, which outlives it.
        let host = unsafe { (*self.as_raw()).host };
        if host.is_null() {
            return None;
        }
        if self.queue_depth().is_some() {
            // SAFETY: `host` is a block device's inode (`queue_depth`).
            return Some((unsafe { bindings::I_BDEV(host) }, PAGE_SHIFT as u32));
        }
        // SAFETY: `host` is valid, and its superblock lives as long as it; `s_bdev` and the
        // block size are fixed while the file system is mounted, which it is while the inode is
        // referenced.
        let (bdev, bits) = unsafe {
            let sb = (*host).i_sb;
            ((*sb).s_bdev, u32::from((*sb).s_blocksize_bits))
        };
        (!bdev.is_null() && (bindings::SECTOR_SHIFT..=PAGE_SHIFT as u32).contains(&bits))
            .then_some((bdev, bits))
    }

    /// The largest request the device under this page cache takes, in pages; bigger ones are
    /// split. `None` if there is no such device.
    pub fn max_request_pages(&self) -> Option<u64> {
        let (bdev, _) = self.device()?;
        // SAFETY: the block device is open while its page cache, or a file system on it, is
        // alive; its queue lives as long as it; `max_sectors` is a word read racily, as
        // `queue_max_sectors()` does.
        let sectors = unsafe { (*(*bdev).bd_queue).limits.max_sectors };
        Some(u64::from(sectors) >> (PAGE_SHIFT as u32 - bindings::SECTOR_SHIFT))
    }

    /// Prepares one request that reads `pages` into this page cache from the block device: adds
    /// to the page cache, locked, those that are not cached, and reads the blocks between them
    /// into scratch memory that is dropped; returns `None` if every page is cached. The request
    /// goes to the device when [`DeviceRead::submit`] is called; meanwhile, whoever wants one of
    /// the pages waits for it.
    ///
    /// For a block device's page cache, a page's block is its index. `pages` must be sorted by
    /// block and not overlap; the request holds at most [`MAX_DEVICE_READ_SEGMENTS`] pages and
    /// scratch pages. This is what readahead does, for pages that are not adjacent on the
    /// device: on a device that serves one request at a time, one request for a few pages with
    /// small gaps between them costs about what a request for one page does.
    ///
    /// For a file, the caller must make sure that the blocks hold the pages' current data: that
    /// the file system writes these pages through this page cache (so a page not cached has
    /// been written back), and that the blocks still belong to the file (a wrong block reads
    /// wrong data into the page cache). Fails with `EINVAL` if the page cache is not on a block
    /// device, or `pages` is empty, unsorted, overlapping or too far apart; with `ENOMEM`.
    ///
    /// Context: may sleep.
    pub fn prepare_read(&self, pages: &[DevicePage]) -> Result<Option<DeviceRead>> {
        let mapping = self.as_raw();
        let (bdev, bits) = self.device().ok_or(EINVAL)?;
        if pages.is_empty() {
            return Err(EINVAL);
        }
        let page_blocks = 1u64 << (PAGE_SHIFT as u32 - bits);
        let limit = MAX_DEVICE_READ_SEGMENTS as u64 * page_blocks;
        let mut segments = 0;
        for (i, page) in pages.iter().enumerate() {
            if i > 0 {
                let end = pages[i - 1].block.checked_add(page_blocks).ok_or(EINVAL)?;
                if page.block < end || page.block - end > limit {
                    return Err(EINVAL);
                }
                segments += ((page.block - end) << bits).div_ceil(PAGE_SIZE as u64) as usize;
            }
            segments += 1;
            if segments > MAX_DEVICE_READ_SEGMENTS {
                return Err(EINVAL);
            }
        }

        // As readahead does: while folios are locked in the page cache and not yet read, an
        // allocation must not recurse into file systems, which might wait for them.
        // SAFETY: restored below, in this thread.
        let nofs = unsafe { bindings::memalloc_nofs_save() };
        let ret = Self::prepare_locked(mapping, bdev, bits, pages);
        // SAFETY: saved above.
        unsafe { bindings::memalloc_nofs_restore(nofs) };
        ret
    }

    fn prepare_locked(
        mapping: *mut bindings::address_space,
        bdev: *mut bindings::block_device,
        bits: u32,
        pages: &[DevicePage],
    ) -> Result<Option<DeviceRead>> {
        // The folios, locked in the page cache (`None` where a page is cached already).
        // SAFETY: the mapping is valid.
        let gfp = unsafe { bindings::readahead_gfp_mask(mapping) };
        let mut placed = KVec::with_capacity(pages.len(), GFP_KERNEL)?;
        // SAFETY: the mapping is valid; readahead takes this lock too, against hole punching
        // and truncation of the page cache while it adds folios.
        unsafe { bindings::filemap_invalidate_lock_shared(mapping) };
        for page in pages {
            // SAFETY: allocates a folio of one page, or returns NULL.
            let folio = unsafe { bindings::filemap_alloc_folio(gfp, 0) };
            let mut added = false;
            if !folio.is_null() {
                // SAFETY: `folio` is new and ours; on success it is in the page cache, locked,
                // with a reference of the page cache's.
                added =
                    unsafe { bindings::filemap_add_folio(mapping, folio, page.index as _, gfp) }
                        == 0;
                // SAFETY: our reference from the allocation: a locked folio stays in the page
                // cache (removing one takes its lock), which holds it until the read ends.
                unsafe { bindings::folio_put(folio) };
            }
            // Cannot fail: the capacity is there.
            let _ = placed.push(added.then_some(folio), GFP_KERNEL);
        }
        // SAFETY: taken above.
        unsafe { bindings::filemap_invalidate_unlock_shared(mapping) };
        let (Some(first), Some(last)) = (
            placed.iter().position(Option::is_some),
            placed.iter().rposition(Option::is_some),
        ) else {
            return Ok(None);
        };
        let placed = &placed[first..=last];
        let built = KVec::with_capacity(placed.len(), GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|folios| {
                KBox::new(
                    ReadState {
                        folios,
                        scratch: KVec::new(),
                    },
                    GFP_KERNEL,
                )
                .map_err(Error::from)
            })
            .and_then(|mut state| {
                let bio = Self::build(&mut state, bdev, bits, &pages[first..=last], placed)?;
                Ok((state, bio))
            });
        match built {
            // INVARIANT: `build` made `bio` read into the folios and scratch pages of `state`.
            Ok((state, bio)) => Ok(Some(DeviceRead {
                bio,
                state: Some(state),
            })),
            Err(e) => {
                // Not read: end their reads, as failed.
                for &folio in placed.iter().flatten() {
                    // SAFETY: added locked above, and their reads not started.
                    unsafe { bindings::folio_end_read(folio, false) };
                }
                Err(e)
            }
        }
    }

    /// Builds the request of [`AddressSpace::prepare_read`]: `pages` (their folios in `placed`,
    /// `None` for scratch) and scratch pages for the gaps, kept in `state` with the folios. On
    /// failure, the folios' reads are left for the caller to end.
    fn build(
        state: &mut ReadState,
        bdev: *mut bindings::block_device,
        bits: u32,
        pages: &[DevicePage],
        placed: &[Option<*mut bindings::folio>],
    ) -> Result<NonNull<bindings::bio>> {
        let page_blocks = 1u64 << (PAGE_SHIFT as u32 - bits);
        // Lengths in bytes of the segments; 0 for the folio of the next page.
        let mut segments = KVec::new();
        for (i, (page, folio)) in pages.iter().zip(placed).enumerate() {
            if i > 0 {
                let mut gap = (page.block - pages[i - 1].block - page_blocks) << bits;
                while gap > 0 {
                    let len = gap.min(PAGE_SIZE as u64);
                    segments.push(len as usize, GFP_KERNEL)?;
                    gap -= len;
                }
            }
            segments.push(if folio.is_some() { 0 } else { PAGE_SIZE }, GFP_KERNEL)?;
        }
        for &len in segments.iter() {
            if len != 0 {
                state
                    .scratch
                    .push(Page::alloc_page(GFP_KERNEL)?, GFP_KERNEL)?;
            }
        }
        let opf = bindings::req_op_REQ_OP_READ | (1 << bindings::req_flag_bits___REQ_RAHEAD);
        // SAFETY: `bdev` is the open block device under the page cache; with `GFP_KERNEL` the
        // allocation waits rather than fails, but a NULL is checked anyway.
        let bio =
            unsafe { bindings::bio_alloc(bdev, segments.len() as u16, opf, GFP_KERNEL.as_raw()) };
        let bio = NonNull::new(bio).ok_or(ENOMEM)?;
        let raw = bio.as_ptr();
        // SAFETY: `bio` is ours, not submitted.
        unsafe { (*raw).bi_iter.bi_sector = pages[0].block << (bits - bindings::SECTOR_SHIFT) };
        let (mut folios, mut scratch) = (placed.iter().flatten(), state.scratch.iter());
        for &len in segments.iter() {
            // SAFETY: `bio` has room for every segment (allocated with as many vectors); the
            // folios are locked in the page cache, the scratch pages ours until the completion.
            let added = unsafe {
                if len == 0 {
                    folios.next().is_some_and(|&f| {
                        state.folios.push(f, GFP_KERNEL).is_ok()
                            && bindings::bio_add_folio(raw, f, PAGE_SIZE, 0)
                    })
                } else {
                    scratch.next().is_some_and(|p| {
                        bindings::bio_add_page(raw, p.as_ptr(), len as u32, 0) == len as i32
                    })
                }
            };
            if !added {
                // SAFETY: not submitted: `bio_alloc`'s reference.
                unsafe { bindings::bio_put(raw) };
                return Err(EINVAL);
            }
        }
        Ok(bio)
    }

    /// Looks up the page at `index`, and calls `f` with it while holding a reference on it.
    fn with_folio<R>(&self, index: u64, f: impl FnOnce(*mut bindings::folio) -> R) -> Option<R> {
        // SAFETY: the mapping is valid; without `FGP_*` flags this only looks the folio up, and
        // returns it with a reference, or an error pointer.
        let folio = unsafe { bindings::__filemap_get_folio(self.as_raw(), index as _, 0, 0) };
        if folio.is_null() || crate::error::from_err_ptr(folio).is_err() {
            return None;
        }
        let ret = f(folio);
        // SAFETY: the reference taken by the lookup above.
        unsafe { bindings::folio_put(folio) };
        Some(ret)
    }

    /// Copies the bytes at byte `offset` of the mapping into `buf`, reading (and waiting for)
    /// the pages that are not cached.
    ///
    /// Fails with `EIO` if a page cannot be read, and with `EINVAL` if the mapping cannot read
    /// pages. The bytes are a snapshot: the owner of the data may be changing them meanwhile.
    ///
    /// Context: may sleep.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result {
        // SAFETY: the mapping is valid, and `a_ops` is set for every mapping.
        if unsafe { (*(*self.as_raw()).a_ops).read_folio.is_none() } {
            return Err(EINVAL);
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            // SAFETY: the mapping is valid and can read pages; without a filler function the
            // mapping's `read_folio` reads the page. Returns a referenced, up-to-date folio or
            // an error pointer.
            let folio = crate::error::from_err_ptr(unsafe {
                bindings::read_cache_folio(
                    self.as_raw(),
                    (pos >> crate::page::PAGE_SHIFT) as _,
                    None,
                    core::ptr::null_mut(),
                )
            })?;
            // SAFETY: `folio` is referenced; its position and size are fixed while it is.
            let (start, size) = unsafe {
                (
                    bindings::folio_pos(folio) as u64,
                    bindings::folio_size(folio),
                )
            };
            let in_folio = (pos - start) as usize;
            let n = (size - in_folio).min(buf.len() - done);
            // SAFETY: `folio` is referenced and up to date; `in_folio + n` is within it, and
            // `buf[done..done + n]` is valid for writes.
            unsafe {
                bindings::memcpy_from_folio(buf[done..].as_mut_ptr().cast(), folio, in_folio, n);
                bindings::folio_put(folio);
            }
            done += n;
        }
        Ok(())
    }

    /// How many pages the mapping caches: a snapshot, as pages come and go meanwhile.
    ///
    /// Context: any, probes included: reads one field, without locks.
    pub fn nr_pages(&self) -> u64 {
        // SAFETY: the mapping is valid; `nrpages` is a word that the page cache updates under
        // its lock and that may be read racily (as `mapping_empty()` does).
        unsafe { core::ptr::addr_of!((*self.as_raw()).nrpages).read_volatile() as u64 }
    }

    /// For the page cache of a block device: how many requests its queue holds at once
    /// (`nr_requests`), beyond which submitters wait for one to complete. `None` for the page
    /// cache of anything else.
    pub fn queue_depth(&self) -> Option<u64> {
        // SAFETY: the mapping is valid; `host` is its owner, which outlives it.
        let host = unsafe { (*self.as_raw()).host };
        if host.is_null() {
            return None;
        }
        // SAFETY: `host` is valid (above); the file type bits of `i_mode` never change.
        let mode = u32::from(unsafe { (*host).i_mode });
        if mode & bindings::S_IFMT != bindings::S_IFBLK {
            return None;
        }
        // SAFETY: `host` is a block device's inode, so `I_BDEV` gives its block device, which
        // lives as long as the inode, and whose queue lives as long as the device.
        let depth = unsafe { (*(*bindings::I_BDEV(host)).bd_queue).nr_requests };
        Some(depth as u64)
    }

    /// Whether the page at `index` is cached, read, and used since it was read.
    pub fn page_state(&self, index: u64) -> PageState {
        self.with_folio(index, |folio| {
            // SAFETY: `folio` is referenced; its flags may be read at any time.
            unsafe {
                PageState::Cached {
                    uptodate: bindings::folio_test_uptodate(folio),
                    used: bindings::folio_test_referenced(folio)
                        || bindings::folio_test_active(folio),
                }
            }
        })
        .unwrap_or(PageState::Absent)
    }

    /// Waits until the read of the page at `index`, if one is in flight, is over. Returns at once
    /// if the page is not cached.
    ///
    /// Context: may sleep.
    pub fn wait_for_page(&self, index: u64) {
        self.with_folio(index, |folio| {
            // SAFETY: `folio` is referenced; waiting for its lock bit does not take the lock.
            unsafe { bindings::folio_wait_locked(folio) }
        });
    }
}

/// Runs `f` with the current thread's block requests held back (plugged) until it returns, so
/// that the device gets them as one batch, sorted and merged; the plug is also flushed whenever
/// the thread sleeps.
///
/// Context: may sleep.
pub fn with_plug<R>(f: impl FnOnce() -> R) -> R {
    let mut plug = MaybeUninit::<bindings::blk_plug>::uninit();
    // SAFETY: `plug` lives on this stack frame, does not move, and is finished below before the
    // frame ends; `blk_start_plug` initialises it.
    unsafe { bindings::blk_start_plug(plug.as_mut_ptr()) };
    let ret = f();
    // SAFETY: started above, by this thread.
    unsafe { bindings::blk_finish_plug(plug.as_mut_ptr()) };
    ret
}
