// SPDX-License-Identifier: GPL-2.0

//! Pages of a process's memory pinned for the kernel's long-term use.

use crate::{
    bindings,
    error::{code::*, Error, Result},
};
use core::ptr::NonNull;

/// One page of the current process's memory, pinned (`FOLL_PIN`, `FOLL_LONGTERM`) for writing,
/// so that it stays in place and in memory while the kernel or a device uses it, whatever the
/// process does to its mapping. It is unpinned, and marked dirty, when dropped.
///
/// # Examples
///
/// An ioctl handler pinning the page at a user address it was given:
///
/// ```
/// use kernel::{mm::PinnedPage, prelude::*};
///
/// fn pin_and_locate(addr: usize) -> Result<u64> {
///     let page = PinnedPage::pin_user(addr)?;
///     Ok(page.phys_addr())
/// }
///
/// // Kernel threads, such as the one running this example, have no user memory.
/// assert_eq!(pin_and_locate(0x1000), Err(EFAULT));
/// ```
///
/// # Invariants
///
/// `page` is a page pinned with `pin_user_pages_fast`, once, by this object.
pub struct PinnedPage {
    page: NonNull<bindings::page>,
}

// SAFETY: a pin may be released from any thread.
unsafe impl Send for PinnedPage {}
// SAFETY: `&PinnedPage` only gives the page's physical address.
unsafe impl Sync for PinnedPage {}

impl PinnedPage {
    /// Pins the page at user address `addr` of the current process, which must be mapped
    /// writable (`EFAULT` otherwise, or the error of the fault).
    pub fn pin_user(addr: usize) -> Result<Self> {
        // SAFETY: `get_current` returns the current task, which lives while it runs this.
        if unsafe { (*bindings::get_current()).mm.is_null() } {
            return Err(EFAULT);
        }
        let mut page = core::ptr::null_mut();
        let flags = bindings::FOLL_WRITE | bindings::FOLL_LONGTERM;
        // SAFETY: `page` has room for the one page asked for; the call checks the address.
        let pinned = unsafe { bindings::pin_user_pages_fast(addr, 1, flags, &mut page) };
        if pinned < 0 {
            return Err(Error::from_errno(pinned));
        }
        match NonNull::new(page) {
            // INVARIANT: one page, pinned by the call above.
            Some(page) if pinned == 1 => Ok(Self { page }),
            _ => Err(EFAULT),
        }
    }

    /// The page's physical address.
    pub fn phys_addr(&self) -> u64 {
        // SAFETY: the page is pinned, hence valid, by the type invariant.
        unsafe { bindings::page_to_phys(self.page.as_ptr()) }
    }
}

impl Drop for PinnedPage {
    fn drop(&mut self) {
        let mut page = self.page.as_ptr();
        // SAFETY: by the type invariant the page was pinned once, by us; it may have been
        // written to, so it is marked dirty.
        unsafe { bindings::unpin_user_pages_dirty_lock(&mut page, 1, true) };
    }
}
