// SPDX-License-Identifier: GPL-2.0

//! Extended attributes of a stacking filesystem's objects.
//!
//! Every name goes to the filesystem's [`FileSystem::getxattr`], [`FileSystem::setxattr`] and
//! [`FileSystem::listxattr`] through one handler for all prefixes, after the VFS's permission
//! checks of the name's namespace on the stacked inode. POSIX ACLs are not among them: the
//! VFS handles those names apart.
//!
//! C header: [`include/linux/xattr.h`](srctree/include/linux/xattr.h)

use super::{dentry::Dentry, FileSystem};
use crate::{
    bindings,
    error::Result,
    ffi::{c_char, c_int, c_void},
    str::CStr,
};
use core::{marker::PhantomData, mem::MaybeUninit, ptr};

/// Returns whether the current task may see the names of the `trusted.` namespace listed:
/// whether it has `CAP_SYS_ADMIN` in the initial user namespace. A stacking filesystem lists the
/// real names as its mounter, and filters them with this for its caller, as filesystems do.
///
/// # Examples
///
/// ```
/// // Doctests run as the kernel, with every capability.
/// assert!(kernel::vfs::xattr::may_list_trusted());
/// ```
pub fn may_list_trusted() -> bool {
    // SAFETY: `init_user_ns` lives forever; the check has no other precondition.
    unsafe {
        bindings::ns_capable_noaudit(
            ptr::addr_of_mut!(bindings::init_user_ns),
            bindings::CAP_SYS_ADMIN as c_int,
        )
    }
}

/// The extended attribute handlers of a filesystem of type `T`: one for every name.
pub(crate) struct Handlers<T>(PhantomData<T>);

/// A null-terminated list of handlers, as `s_xattr` points to.
#[repr(transparent)]
pub(crate) struct HandlerList(pub(crate) [*const bindings::xattr_handler; 2]);

// SAFETY: the list only points to `'static` handlers, which are never changed.
unsafe impl Sync for HandlerList {}

impl<T: FileSystem> Handlers<T> {
    const ALL: bindings::xattr_handler = bindings::xattr_handler {
        prefix: c"".as_ptr().cast(),
        get: Some(get::<T>),
        set: Some(set::<T>),
        // SAFETY: all-zero is valid for the remaining fields: no name, flags or list filter.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    pub(crate) const LIST: HandlerList = HandlerList([&Self::ALL, ptr::null()]);
}

/// Returns a length, or an error, as the C convention wants them.
fn to_ssize(ret: Result<usize>) -> isize {
    match ret {
        Ok(len) => len as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS through [`Handlers::ALL`] for a dentry of type `T`.
unsafe extern "C" fn get<T: FileSystem>(
    _handler: *const bindings::xattr_handler,
    dentry: *mut bindings::dentry,
    _inode: *mut bindings::inode,
    name: *const c_char,
    buffer: *mut c_void,
    size: usize,
) -> c_int {
    if dentry.is_null() {
        return EOPNOTSUPP_ERRNO;
    }
    // SAFETY: the VFS holds a reference to the dentry and passes a C string name.
    let (dentry, name) = unsafe { (Dentry::<T>::from_raw(dentry), CStr::from_char_ptr(name)) };
    let mut empty = [];
    let buf = if buffer.is_null() {
        &mut empty[..]
    } else {
        // SAFETY: a non-null buffer is writable for `size` bytes.
        unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) }
    };
    to_ssize(T::getxattr(dentry, name, buf)) as c_int
}

/// # Safety
///
/// Called by the VFS through [`Handlers::ALL`] for a dentry of type `T`, its inode locked.
unsafe extern "C" fn set<T: FileSystem>(
    _handler: *const bindings::xattr_handler,
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    _inode: *mut bindings::inode,
    name: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    if dentry.is_null() {
        return EOPNOTSUPP_ERRNO;
    }
    // SAFETY: the VFS holds a reference to the dentry and passes a C string name.
    let (d, name) = unsafe { (Dentry::<T>::from_raw(dentry), CStr::from_char_ptr(name)) };
    let value = if value.is_null() {
        None
    } else {
        // SAFETY: a non-null value is readable for `size` bytes.
        Some(unsafe { core::slice::from_raw_parts(value.cast::<u8>(), size) })
    };
    match T::setxattr(d, name, value, flags as u32) {
        Ok(()) => {
            d.refresh_inode();
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS for `listxattr()` on a referenced dentry of type `T`.
pub(crate) unsafe extern "C" fn list<T: FileSystem>(
    dentry: *mut bindings::dentry,
    buffer: *mut c_char,
    size: usize,
) -> isize {
    // SAFETY: the VFS holds a reference to the dentry.
    let dentry = unsafe { Dentry::<T>::from_raw(dentry) };
    let mut empty = [];
    let buf = if buffer.is_null() {
        &mut empty[..]
    } else {
        // SAFETY: a non-null buffer is writable for `size` bytes.
        unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) }
    };
    to_ssize(T::listxattr(dentry, buf))
}

const EOPNOTSUPP_ERRNO: c_int = -(bindings::EOPNOTSUPP as c_int);
