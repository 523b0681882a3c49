// SPDX-License-Identifier: GPL-2.0

//! Files on anonymous inodes.
//!
//! A driver that hands out objects to user space as file descriptors (a virtual machine, an
//! event, a buffer) creates one file per object on the shared anonymous inode. The file keeps
//! the object and answers with the driver's [`FileOperations`].
//!
//! C header: [`include/linux/anon_inodes.h`](srctree/include/linux/anon_inodes.h)

use super::{FileOperations, Vtable};
use crate::{bindings, error::Result, prelude::*, str::CStr, types::ForeignOwnable};

/// Creates a file of `T` that keeps `data`, installs it as a new close-on-exec, read-write file
/// descriptor of the current process, and returns the descriptor.
///
/// `name` appears in `/proc/<pid>/fd` as `anon_inode:<name>`. On failure `data` is dropped.
///
/// # Examples
///
/// An `ioctl()` handler that returns a descriptor for a new counter:
///
/// ```
/// use core::sync::atomic::{AtomicU64, Ordering};
/// use kernel::{c_str, fs::{anon_inode, FileOperations}, prelude::*, sync::{Arc, ArcBorrow}};
///
/// struct Counter(AtomicU64);
///
/// // SAFETY: doctests are built into the kernel, whose `THIS_MODULE` is null.
/// static BUILT_IN: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
///
/// #[vtable]
/// impl FileOperations for Counter {
///     type Ptr = Arc<Self>;
///     const OWNER: &'static ThisModule = &BUILT_IN;
///
///     fn ioctl(counter: ArcBorrow<'_, Self>, _cmd: u32, _arg: usize) -> Result<isize> {
///         Ok(counter.0.fetch_add(1, Ordering::Relaxed) as isize)
///     }
/// }
///
/// fn new_counter() -> Result<isize> {
///     let counter = Arc::new(Counter(AtomicU64::new(0)), GFP_KERNEL)?;
///     Ok(anon_inode::new_fd::<Counter>(c_str!("counter"), counter)? as isize)
/// }
/// # let _ = new_counter;
/// ```
pub fn new_fd<T: FileOperations>(name: &CStr, data: T::Ptr) -> Result<u32> {
    let ptr = data.into_foreign();
    // SAFETY: `name` is a valid C string for the call (the file copies it), the operations are
    // static, and `ptr` becomes the file's `private_data`, which they expect to hold a `T::Ptr`.
    let fd = unsafe {
        bindings::anon_inode_getfd(
            name.as_char_ptr(),
            &Vtable::<T>::FILE_OPERATIONS,
            ptr.cast_mut(),
            (bindings::O_RDWR | bindings::O_CLOEXEC) as _,
        )
    };
    if fd < 0 {
        // SAFETY: the file was not created, so `ptr` is still ours and never borrowed.
        drop(unsafe { T::Ptr::from_foreign(ptr) });
        return Err(Error::from_errno(fd));
    }
    Ok(fd as u32)
}
