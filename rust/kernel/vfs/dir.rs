// SPDX-License-Identifier: GPL-2.0

//! Directories of a stacking filesystem.
//!
//! Each open directory keeps a [`FileSystem::Dir`], which [`FileSystem::read_dir`] reads the
//! entries from. A directory position is an entry number the filesystem chooses: `getdents()`
//! continues from it, `telldir()` returns it and `seekdir()` sets it to any value the directory
//! gave; seeking to 0 starts over ([`FileSystem::rewind_dir`]).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::{dentry::Dentry, FileSystem};
use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{code::EINVAL, from_result, Result},
    ffi::c_int,
    types::Opaque,
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// Where a directory read emits its entries, `struct dir_context`.
///
/// # Invariants
///
/// Instances are only handed out as `&mut` by the VFS's call to read a directory, for the
/// duration of the call.
#[repr(transparent)]
pub struct DirEmitter(Opaque<bindings::dir_context>);

impl DirEmitter {
    /// # Safety
    ///
    /// `ptr` must be a valid `dir_context` that only the caller uses for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::dir_context) -> &'a mut Self {
        // SAFETY: `Self` is a transparent wrapper; the caller guarantees exclusive validity.
        unsafe { &mut *ptr.cast() }
    }

    /// The position to continue from.
    pub fn pos(&self) -> i64 {
        // SAFETY: the context is valid and ours (type invariant).
        unsafe { (*self.0.get()).pos }
    }

    /// Sets the position to continue from next time.
    pub fn set_pos(&mut self, pos: i64) {
        // SAFETY: the context is valid and ours (type invariant).
        unsafe { (*self.0.get()).pos = pos };
    }

    /// Emits an entry; returns `false` if the reader's buffer is full and the entry was not
    /// taken (the position is then left where it is, to emit it again next time).
    pub fn emit(&mut self, name: &[u8], ino: u64, d_type: u32) -> bool {
        let Ok(len) = c_int::try_from(name.len()) else {
            return false;
        };
        // SAFETY: the context is valid and ours (type invariant); `name` is valid for `len`
        // bytes, which the reader copies.
        unsafe { bindings::dir_emit(self.0.get(), name.as_ptr().cast(), len, ino, d_type) }
    }
}

/// The file operations of directories of a filesystem of type `T`.
pub(crate) struct DirOps<T>(PhantomData<T>);

impl<T: FileSystem> DirOps<T> {
    pub(crate) const OPS: bindings::file_operations = bindings::file_operations {
        owner: T::OWNER.as_ptr(),
        open: Some(open::<T>),
        release: Some(release::<T>),
        iterate_shared: Some(iterate_shared::<T>),
        llseek: Some(llseek::<T>),
        read: Some(bindings::generic_read_dir),
        // SAFETY: all-zero is valid for the remaining operations: absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// # Safety
///
/// `file` must be a directory that `open` opened and that is not released, and the result must
/// not be used after the file is.
unsafe fn dir<'a, T: FileSystem>(file: *mut bindings::file) -> &'a T::Dir {
    // SAFETY: `private_data` holds the box `open` made, until `release`.
    unsafe { &*(*file).private_data.cast::<T::Dir>() }
}

/// # Safety
///
/// Called by the VFS to open a directory of type `T`.
unsafe extern "C" fn open<T: FileSystem>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        // SAFETY: the file references its dentry, of a set-up super block of `T`.
        let dentry = unsafe { Dentry::<T>::from_raw((*file).f_path.dentry) };
        let dir = KBox::new(T::open_dir(dentry)?, GFP_KERNEL)?;
        // SAFETY: `private_data` is ours; `release` frees the box.
        unsafe { (*file).private_data = KBox::into_raw(dir).cast() };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS on the last close of a directory `open` opened.
unsafe extern "C" fn release<T: FileSystem>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` is the box `open` made, and this is its last use.
    drop(unsafe { KBox::from_raw((*file).private_data.cast::<T::Dir>()) });
    0
}

/// # Safety
///
/// Called by the VFS, with the directory's inode locked shared, to read an open directory.
unsafe extern "C" fn iterate_shared<T: FileSystem>(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    from_result(|| {
        // SAFETY: `file` is an open directory of `T` and `ctx` the caller's, ours for the call.
        let (dentry, dir, emitter) = unsafe {
            (
                Dentry::<T>::from_raw((*file).f_path.dentry),
                dir::<T>(file),
                DirEmitter::from_raw(ctx),
            )
        };
        T::read_dir(dir, dentry, emitter)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS, with `f_pos_lock` held, to move the position of an open directory of `T`.
unsafe extern "C" fn llseek<T: FileSystem>(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    let seek = || -> Result<bindings::loff_t> {
        // SAFETY: `file` is open; its position is protected by `f_pos_lock`, which the caller
        // holds for directories.
        let pos = unsafe { (*file).f_pos };
        let new = match whence as u32 {
            bindings::SEEK_SET => offset,
            bindings::SEEK_CUR => pos.checked_add(offset).ok_or(EINVAL)?,
            _ => return Err(EINVAL),
        };
        if new < 0 {
            return Err(EINVAL);
        }
        if new != pos {
            // SAFETY: as above.
            unsafe { (*file).f_pos = new };
            if new == 0 {
                // SAFETY: `file` is an open directory of `T`.
                T::rewind_dir(unsafe { dir::<T>(file) });
            }
        }
        Ok(new)
    };
    match seek() {
        Ok(pos) => pos,
        Err(e) => e.to_errno() as bindings::loff_t,
    }
}
