// SPDX-License-Identifier: GPL-2.0

//! The page cache of a file or block device (`struct address_space`), and reading ahead into it.
//!
//! Readahead starts reads of pages that are not cached yet and returns without waiting for them;
//! [`AddressSpace::wait_for_page`] waits for one to arrive, and [`AddressSpace::page_state`]
//! tells whether a page is cached and whether anybody used it since it was read.
//! [`with_plug`] holds the block requests a thread submits so that they go to the device
//! together, sorted and merged.
//!
//! C headers: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)

use crate::{bindings, error::code::EINVAL, error::Result, types::Opaque};
use core::mem::MaybeUninit;

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

/// The page cache of one file or block device.
///
/// # Examples
///
/// ```
/// use kernel::{bindings, c_str, file::File, pagecache::{with_plug, PageState}};
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
