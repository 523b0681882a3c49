// SPDX-License-Identifier: GPL-2.0

//! debugfs: files for debugging and statistics under `/sys/kernel/debug`.
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h)

use crate::{
    bindings,
    error::{from_err_ptr, Result},
    str::CStr,
};
use core::sync::atomic::AtomicU64;

/// A directory in debugfs, removed with everything in it when dropped.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicU64, Ordering};
/// use kernel::{c_str, debugfs::Dir};
///
/// static HITS: AtomicU64 = AtomicU64::new(0);
///
/// let dir = Dir::new(c_str!("rust_debugfs_doctest"))?;
/// dir.add_u64(c_str!("hits"), &HITS);
/// HITS.fetch_add(1, Ordering::Relaxed);
/// // Dropping the directory removes it, so that the name can be used again.
/// drop(dir);
/// let _again = Dir::new(c_str!("rust_debugfs_doctest"))?;
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `dentry` is a debugfs directory created by this object and removed only by its drop.
pub struct Dir {
    dentry: *mut bindings::dentry,
}

// SAFETY: debugfs directories may be created and removed from any thread.
unsafe impl Send for Dir {}

// SAFETY: adding files to a directory is serialised by debugfs.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates the directory `name` at the top of debugfs.
    ///
    /// Fails with `EEXIST` if the name is taken, and with `ENODEV` if debugfs is not available.
    pub fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated; a null parent means the top of debugfs.
        let dentry = from_err_ptr(unsafe {
            bindings::debugfs_create_dir(name.as_char_ptr(), core::ptr::null_mut())
        })?;
        // INVARIANT: created above.
        Ok(Self { dentry })
    }

    /// Adds a read-only file `name` that shows the value of `value` in decimal.
    ///
    /// The file is removed with the directory; `value` must outlive it, hence `'static`.
    pub fn add_u64(&self, name: &CStr, value: &'static AtomicU64) {
        // SAFETY: the directory is valid; `value` has the layout of a `u64` and lives forever.
        // debugfs reads it with plain loads, which is fine for a statistic.
        unsafe {
            bindings::debugfs_create_u64(name.as_char_ptr(), 0o444, self.dentry, value.as_ptr())
        };
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the directory exists; this removes it and its files, and
        // waits for readers of the files to finish.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}
