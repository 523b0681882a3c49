// SPDX-License-Identifier: GPL-2.0

//! Mounts being set up.
//!
//! A mount is set up in a filesystem context: `fsopen()` or `mount()` creates it, each
//! `key=value` goes through the filesystem's parameter parser, and creating the super block
//! ends it. Errors are explained in the context's log, which `fsopen()` users read from the
//! context's file descriptor and which goes to the kernel log otherwise.
//!
//! C header: [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)

use crate::{
    bindings,
    error::code::EINVAL,
    error::Error,
    ffi::{c_ulong, c_void},
    types::Opaque,
};
use core::fmt;

/// A filesystem context, `struct fs_context`.
///
/// # Invariants
///
/// Instances are only handed out by reference, by the VFS's calls into a filesystem, for the
/// duration of the call.
#[repr(transparent)]
pub struct FsContext(Opaque<bindings::fs_context>);

impl FsContext {
    /// Creates a reference to a context the VFS passed to a filesystem.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid `struct fs_context` for the lifetime `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::fs_context) -> &'a Self {
        // SAFETY: `FsContext` is a transparent wrapper, and the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    /// Writes an error message to the context's log, prefixed with the filesystem's name.
    pub fn errorf(&self, args: fmt::Arguments<'_>) {
        let fc = self.0.get();
        // SAFETY: `fc` is valid (type invariant); `logfc()` formats the arguments with the `%pA`
        // printer, which reads the `fmt::Arguments` for the duration of the call.
        unsafe {
            bindings::logfc(
                (*fc).log.log,
                (*fc).log.prefix,
                b'e' as _,
                crate::c_str!("%pA").as_char_ptr(),
                &args as *const fmt::Arguments<'_> as *const c_void,
            )
        };
    }

    /// Writes an error message to the context's log and returns `EINVAL`, the error of a bad
    /// mount parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{vfs::FsContext, prelude::*};
    ///
    /// fn check_layers(fc: &FsContext, layers: usize) -> Result {
    ///     if layers == 0 {
    ///         return Err(fc.invalf(format_args!("missing 'lowerdir'")));
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = check_layers;
    /// ```
    pub fn invalf(&self, args: fmt::Arguments<'_>) -> Error {
        self.errorf(args);
        EINVAL
    }

    /// Returns whether the mount asks for a read-only super block.
    pub fn wants_read_only(&self) -> bool {
        // SAFETY: `self.0` is valid (type invariant) and `sb_flags` is not changed during a call.
        unsafe { ((*self.0.get()).sb_flags as c_ulong) & bindings::SB_RDONLY != 0 }
    }

    /// Returns whether the mount was asked to be silent (`MS_SILENT`).
    pub fn is_silent(&self) -> bool {
        // SAFETY: `self.0` is valid (type invariant) and `sb_flags` is not changed during a call.
        unsafe { ((*self.0.get()).sb_flags as c_ulong) & bindings::SB_SILENT != 0 }
    }
}
