// SPDX-License-Identifier: GPL-2.0

//! Pages shared with user space.

use crate::{
    alloc::{flags::*, Flags},
    bindings,
    error::{code::*, Result},
    page::{Page, PAGE_SIZE},
    types::{AsBytes, FromBytes},
};

/// A zeroed page that a driver maps into a process (with [`super::VmArea::insert_page`]) and
/// that both sides then read and write at any time, such as KVM's `struct kvm_run`.
///
/// Since user space may change it concurrently, its contents are copied in and out byte by
/// byte with volatile accesses, and read only as types for which any bytes are valid.
///
/// # Examples
///
/// ```
/// use kernel::{mm::SharedPage, prelude::*};
///
/// let page = SharedPage::new(GFP_KERNEL)?;
/// page.write(8, &0x1234u32)?;
/// assert_eq!(page.read::<u32>(8)?, 0x1234);
/// assert_eq!(page.read::<u64>(4)?, 0x1234 << 32);
/// // Nothing may cross the end of the page.
/// assert_eq!(page.read::<u64>(4092), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
pub struct SharedPage {
    page: Page,
}

impl SharedPage {
    /// Allocates a zeroed page.
    pub fn new(flags: Flags) -> Result<Self> {
        Ok(Self {
            page: Page::alloc_page(flags | __GFP_ZERO)?,
        })
    }

    /// The page, to map it.
    pub fn page(&self) -> &Page {
        &self.page
    }

    fn base(&self) -> *mut u8 {
        // SAFETY: `page` is a valid page, permanently mapped on 64-bit kernels.
        unsafe { bindings::page_address(self.page.as_ptr()) as *mut u8 }
    }

    fn check(offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= PAGE_SIZE => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    pub fn read_bytes(&self, offset: usize, buf: &mut [u8]) -> Result {
        Self::check(offset, buf.len())?;
        let base = self.base();
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: `offset + i` is inside the page, checked above; a volatile byte read
            // tolerates concurrent writes from user space.
            *byte = unsafe { base.add(offset + i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `buf` into the page at `offset`.
    pub fn write_bytes(&self, offset: usize, buf: &[u8]) -> Result {
        Self::check(offset, buf.len())?;
        let base = self.base();
        for (i, byte) in buf.iter().enumerate() {
            // SAFETY: as in `read_bytes`.
            unsafe { base.add(offset + i).write_volatile(*byte) };
        }
        Ok(())
    }

    /// Reads a `T` at `offset`.
    pub fn read<T: FromBytes>(&self, offset: usize) -> Result<T> {
        let mut value = core::mem::MaybeUninit::<T>::uninit();
        // SAFETY: `value` has room for `size_of::<T>()` bytes, written once here.
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(value.as_mut_ptr() as *mut u8, size_of::<T>())
        };
        bytes.fill(0);
        self.read_bytes(offset, bytes)?;
        // SAFETY: every byte was written, and any bytes are a valid `T` (`FromBytes`).
        Ok(unsafe { value.assume_init() })
    }

    /// Writes `value` at `offset`.
    pub fn write<T: AsBytes>(&self, offset: usize, value: &T) -> Result {
        // SAFETY: `T: AsBytes` has no uninitialised bytes, so it can be viewed as bytes.
        let bytes =
            unsafe { core::slice::from_raw_parts(value as *const T as *const u8, size_of::<T>()) };
        self.write_bytes(offset, bytes)
    }
}
