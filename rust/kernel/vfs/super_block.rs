// SPDX-License-Identifier: GPL-2.0

//! Super blocks: one mounted instance of a filesystem.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::{
    dentry::DentryOps,
    filesystem::SuperOps,
    xattr::{HandlerList, Handlers},
    FileSystem,
};
use crate::{
    bindings,
    error::{code::EINVAL, to_result, Result},
    types::Opaque,
};
use core::marker::PhantomData;

/// `MAX_LFS_FILESIZE`: the largest file size the page cache can address.
const MAX_LFS_FILESIZE: bindings::loff_t = if cfg!(CONFIG_64BIT) {
    bindings::loff_t::MAX
} else {
    (usize::MAX as bindings::loff_t) << bindings::PAGE_SHIFT
};

/// A super block of a filesystem of type `T` that is set up.
///
/// # Invariants
///
/// Instances are only handed out by reference to a super block whose `fill_super` succeeded,
/// whose `s_fs_info` therefore holds a `KBox<T::Data>`, for no longer than the super block
/// lives.
#[repr(transparent)]
pub struct SuperBlock<T: FileSystem>(Opaque<bindings::super_block>, PhantomData<T>);

impl<T: FileSystem> SuperBlock<T> {
    /// Creates a reference to a super block of `T` that is set up.
    ///
    /// # Safety
    ///
    /// `ptr` must be a super block of type `T` whose `fill_super` succeeded, valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a Self {
        // SAFETY: `Self` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    /// What the super block keeps.
    pub fn data(&self) -> &T::Data {
        // SAFETY: `s_fs_info` holds a `KBox<T::Data>` that lives as long as the super block
        // (type invariant).
        unsafe { &*(*self.0.get()).s_fs_info.cast::<T::Data>() }
    }

    /// The device number of the super block, which `stat()` reports as `st_dev`.
    pub fn dev(&self) -> u32 {
        // SAFETY: `s_dev` is set before `fill_super` and never changes.
        unsafe { (*self.0.get()).s_dev }
    }

    /// Returns whether the super block is read-only.
    pub fn is_read_only(&self) -> bool {
        // SAFETY: the super block is valid (type invariant); a remount changes the flags under
        // `s_umount`, which its callers hold.
        unsafe { (*self.0.get()).s_flags & bindings::SB_RDONLY != 0 }
    }
}

/// A super block of a filesystem of type `T` being set up by [`FileSystem::fill_super`].
///
/// # Invariants
///
/// `self.0` is a new super block that only the `fill_super` call that owns this value uses.
pub struct NewSuperBlock<'a, T: FileSystem>(*mut bindings::super_block, PhantomData<&'a T>);

impl<T: FileSystem> NewSuperBlock<'_, T> {
    /// # Safety
    ///
    /// `ptr` must be a new super block of type `T` that only the caller uses, valid for `'a`.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::super_block) -> Self {
        // INVARIANT: the caller hands its exclusive use over.
        Self(ptr, PhantomData)
    }

    /// Sets what every super block of `T` has: its operations, dentry operations, times in
    /// nanoseconds, and the largest file size.
    pub(crate) fn set_defaults(&self) {
        // SAFETY: the super block is ours to set up (type invariant).
        unsafe {
            (*self.0).s_op = &SuperOps::<T>::OPS;
            (*self.0).s_d_op = &DentryOps::<T>::OPS;
            let handlers: &'static HandlerList = &Handlers::<T>::LIST;
            (*self.0).s_xattr = handlers.0.as_ptr();
            (*self.0).s_time_gran = 1;
            (*self.0).s_maxbytes = MAX_LFS_FILESIZE;
        }
    }

    /// Sets the magic number that `statfs()` reports.
    pub fn set_magic(&self, magic: u64) {
        // SAFETY: the super block is ours to set up (type invariant).
        unsafe { (*self.0).s_magic = magic as _ };
    }

    /// Makes the super block read-only: the VFS refuses every change with `EROFS`.
    pub fn set_read_only(&self) {
        // SAFETY: the super block is ours to set up (type invariant).
        unsafe { (*self.0).s_flags |= bindings::SB_RDONLY };
    }

    /// Records how deep filesystems are stacked at this one; deeper than
    /// `FILESYSTEM_MAX_STACK_DEPTH` fails with `EINVAL`, as the kernel stack would not suffice.
    pub fn set_stack_depth(&self, depth: u32) -> Result {
        if depth > bindings::FILESYSTEM_MAX_STACK_DEPTH {
            return Err(EINVAL);
        }
        // SAFETY: the super block is ours to set up (type invariant).
        unsafe { (*self.0).s_stack_depth = depth as _ };
        Ok(())
    }

    /// The device number of the super block.
    pub fn dev(&self) -> u32 {
        // SAFETY: the super block is valid and `s_dev` was set before `fill_super`.
        unsafe { (*self.0).s_dev }
    }
}

/// An anonymous device number, as super blocks without a device have; it is released on drop.
///
/// A stacking filesystem can report one as `st_dev` for the objects of each filesystem below
/// it, where their inode numbers would clash under a single device number.
///
/// # Examples
///
/// ```
/// use kernel::vfs::super_block::AnonDev;
///
/// let a = AnonDev::new()?;
/// let b = AnonDev::new()?;
/// assert_ne!(a.dev(), b.dev());
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `self.0` was allocated by `get_anon_bdev()` and is not released yet.
pub struct AnonDev(u32);

impl AnonDev {
    /// Allocates a device number.
    pub fn new() -> Result<Self> {
        let mut dev = 0;
        // SAFETY: `dev` is written on success.
        to_result(unsafe { bindings::get_anon_bdev(&mut dev) })?;
        // INVARIANT: allocated above.
        Ok(Self(dev))
    }

    /// The device number.
    pub fn dev(&self) -> u32 {
        self.0
    }
}

impl Drop for AnonDev {
    fn drop(&mut self) {
        // SAFETY: the number is allocated and ours (type invariant).
        unsafe { bindings::free_anon_bdev(self.0) };
    }
}
