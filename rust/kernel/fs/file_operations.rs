// SPDX-License-Identifier: GPL-2.0

//! The operations of a file whose private data belongs to a driver.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{
    bindings, build_error,
    error::{from_result, Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_long, c_uint, c_ulong},
    mm::VmArea,
    prelude::*,
    types::ForeignOwnable,
    ThisModule,
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// The operations of a file that keeps one value of [`FileOperations::Ptr`].
///
/// The value is handed over when the file is created and comes back to
/// [`release`](FileOperations::release) on the last close; every other operation borrows it,
/// possibly from several threads at once.
///
/// Every operation is optional: a file that does not implement `ioctl` answers every command
/// with `ENOTTY`, and one without `mmap` refuses mappings with `ENODEV`, as the VFS does for a
/// missing file operation. The file operations name [`OWNER`](FileOperations::OWNER) as their
/// owner, so the module stays loaded while any such file is open.
///
/// # Examples
///
/// A file that reports a number through `ioctl()`:
///
/// ```
/// use kernel::{fs::FileOperations, prelude::*};
///
/// struct Answer(isize);
///
/// // SAFETY: doctests are built into the kernel, whose `THIS_MODULE` is null.
/// static BUILT_IN: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
///
/// #[vtable]
/// impl FileOperations for Answer {
///     type Ptr = KBox<Self>;
///     const OWNER: &'static ThisModule = &BUILT_IN;
///
///     fn ioctl(answer: &Self, cmd: u32, _arg: usize) -> Result<isize> {
///         match cmd {
///             0 => Ok(answer.0),
///             _ => Err(ENOTTY),
///         }
///     }
/// }
///
/// assert!(<Answer as FileOperations>::HAS_IOCTL);
/// assert!(!<Answer as FileOperations>::HAS_MMAP);
/// ```
#[vtable]
pub trait FileOperations: Sized {
    /// What each open file keeps: usually a [`KBox<Self>`] or an [`Arc<Self>`].
    ///
    /// It is shared by all threads that use the file, hence `Send` and `Sync`.
    ///
    /// [`Arc<Self>`]: crate::sync::Arc
    type Ptr: ForeignOwnable + Send + Sync;

    /// The module that implements the file, normally `&THIS_MODULE`.
    ///
    /// Open files hold a reference to it, so the module cannot be unloaded while user space
    /// still uses one.
    const OWNER: &'static ThisModule;

    /// Called on the last close of the file, with the value it kept.
    fn release(data: Self::Ptr) {
        drop(data);
    }

    /// Handles `ioctl(fd, cmd, arg)`; the returned value is `ioctl()`'s result.
    ///
    /// `arg` is passed as user space gave it: a number, or a user pointer to read or write
    /// through [`UserSlice`](crate::uaccess::UserSlice).
    fn ioctl(
        _data: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles `ioctl()` from a 32-bit process on a 64-bit kernel.
    ///
    /// Files that implement only [`ioctl`](Self::ioctl) get `compat_ptr_ioctl()`, which
    /// converts `arg` as a pointer and calls [`ioctl`](Self::ioctl).
    fn compat_ioctl(
        _data: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles `mmap()`: fills or checks the new area before user space can touch it.
    fn mmap(_data: <Self::Ptr as ForeignOwnable>::Borrowed<'_>, _vma: &VmArea) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C file operations of `T` files.
pub(crate) struct Vtable<T>(PhantomData<T>);

impl<T: FileOperations> Vtable<T> {
    /// The operations of a file whose `private_data` holds a `T::Ptr` from the moment it is
    /// created. Those that open files fill in `open` on top.
    pub(crate) const FILE_OPERATIONS: bindings::file_operations = bindings::file_operations {
        owner: T::OWNER.as_ptr(),
        release: Some(release::<T>),
        unlocked_ioctl: if T::HAS_IOCTL { Some(ioctl::<T>) } else { None },
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: if T::HAS_COMPAT_IOCTL {
            Some(compat_ioctl::<T>)
        } else if T::HAS_IOCTL {
            Some(bindings::compat_ptr_ioctl)
        } else {
            None
        },
        mmap: if T::HAS_MMAP { Some(mmap::<T>) } else { None },
        // SAFETY: all-zero is a valid `file_operations`: every other operation absent.
        ..unsafe { MaybeUninit::<bindings::file_operations>::zeroed().assume_init() }
    };
}

/// # Safety
///
/// Called by the VFS on the last close of a file whose `private_data` holds a `T::Ptr` made
/// with `into_foreign`.
unsafe extern "C" fn release<T: FileOperations>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` holds a converted `T::Ptr`, and this is the last use of the file,
    // so no borrow of it remains.
    let data = unsafe { T::Ptr::from_foreign((*file).private_data) };
    T::release(data);
    0
}

/// # Safety
///
/// Called by the VFS on a file whose `private_data` holds a `T::Ptr` made with `into_foreign`
/// and that is not yet released.
unsafe extern "C" fn ioctl<T: FileOperations>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: `private_data` holds a converted `T::Ptr`, and `release` cannot run while this
    // call holds a reference to the file.
    let data = unsafe { T::Ptr::borrow((*file).private_data) };
    from_result(|| Ok(T::ioctl(data, cmd, arg)? as c_long))
}

/// # Safety
///
/// As for [`ioctl`].
#[cfg(CONFIG_COMPAT)]
unsafe extern "C" fn compat_ioctl<T: FileOperations>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: as in `ioctl`.
    let data = unsafe { T::Ptr::borrow((*file).private_data) };
    from_result(|| Ok(T::compat_ioctl(data, cmd, arg)? as c_long))
}

/// # Safety
///
/// Called by the VFS with the `mmap_lock` of `vma`'s address space held for writing, on a file
/// whose `private_data` holds a `T::Ptr` made with `into_foreign` and that is not yet released.
unsafe extern "C" fn mmap<T: FileOperations>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: as in `ioctl`.
    let data = unsafe { T::Ptr::borrow((*file).private_data) };
    // SAFETY: the VFS holds the `mmap_lock` for writing during the whole call.
    let vma = unsafe { VmArea::from_raw(vma) };
    from_result(|| {
        T::mmap(data, vma)?;
        Ok(0)
    })
}
