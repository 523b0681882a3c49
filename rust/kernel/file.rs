// SPDX-License-Identifier: GPL-2.0

//! Open files, as seen by code that observes them.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{
    bindings,
    error::{from_err_ptr, Result},
    inode::Inode,
    str::CStr,
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::ptr::NonNull;

/// An open file (`struct file`).
///
/// # Invariants
///
/// The file is valid: a reference to it keeps it open, as does an [`ARef<File>`].
#[repr(transparent)]
pub struct File(Opaque<bindings::file>);

// SAFETY: `struct file` may be used and released from any thread.
unsafe impl Send for File {}

// SAFETY: the methods of `&File` only read fields that do not change while the file is open, or
// read `f_pos` racily on purpose, as a hint.
unsafe impl Sync for File {}

impl File {
    /// Opens the file at `path` in the kernel's own context, with `O_*` `flags`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, c_str, file::File};
    ///
    /// let root = File::open(c_str!("/"), bindings::O_RDONLY | bindings::O_DIRECTORY)?;
    /// assert!(root.inode().is_dir());
    /// assert_eq!(root.pos(), 0);
    /// assert_eq!(File::open(c_str!("/no/such/file"), bindings::O_RDONLY).err(), Some(ENOENT));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn open(path: &CStr, flags: u32) -> Result<ARef<File>> {
        // SAFETY: `path` is a NUL-terminated string; `filp_open` returns a new reference to an
        // open file, or an error pointer.
        let file = from_err_ptr(unsafe { bindings::filp_open(path.as_char_ptr(), flags as _, 0) })?;
        // SAFETY: `file` is a valid, non-null `struct file` whose reference we own.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(file.cast())) })
    }

    /// Creates a reference to the file at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to an open file that stays open for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::file) -> &'a File {
        // SAFETY: `File` is a transparent wrapper of `struct file`; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    /// The inode the file is open on.
    pub fn inode(&self) -> &Inode {
        // SAFETY: `f_inode` is set at open and never changes; the file holds a reference to it.
        unsafe { Inode::from_raw((*self.0.get()).f_inode) }
    }

    /// The file position, read without its lock: a hint that may be stale by the time it is used.
    pub fn pos(&self) -> i64 {
        // SAFETY: the file is valid; a racing update of the aligned 64-bit `f_pos` is seen either
        // before or after, which is all a hint needs.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.0.get()).f_pos)) }
    }
}

// SAFETY: `get_file` and `fput` increment and decrement the file's reference count; the last
// `fput` closes the file.
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        // SAFETY: the file is valid, so its reference count is not zero.
        unsafe { bindings::get_file(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference, which it gives up here.
        unsafe { bindings::fput(obj.as_ptr().cast()) };
    }
}
