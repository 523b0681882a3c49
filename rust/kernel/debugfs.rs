// SPDX-License-Identifier: GPL-2.0

//! debugfs: directories and counters a driver shows under `/sys/kernel/debug`.
//!
//! debugfs is for debugging and statistics, and never fails in a way a driver must handle:
//! when a directory cannot be created, the files in it are simply not there.
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h)

use crate::{alloc::flags::*, bindings, error::Result, str::CStr, sync::Arc};
use core::sync::atomic::{AtomicU64, Ordering};

/// A debugfs directory, removed with everything in it when dropped.
///
/// # Invariants
///
/// `dentry` is what `debugfs_create_dir` returned: a directory, or an error pointer (which
/// every debugfs function accepts and ignores).
pub struct Dir {
    dentry: *mut bindings::dentry,
}

// SAFETY: debugfs directories may be used and removed from any thread.
unsafe impl Send for Dir {}
// SAFETY: `&Dir` only lets debugfs create entries in it, which debugfs serialises.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates directory `name` in `parent`, or at the top of debugfs.
    pub fn new(name: &CStr, parent: Option<&Dir>) -> Self {
        let parent = parent.map_or(core::ptr::null_mut(), |p| p.dentry);
        // SAFETY: `name` is a valid C string, `parent` null or a directory (or error pointer)
        // that lives as long as its `Dir`, which outlives this call.
        let dentry = unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), parent) };
        // INVARIANT: what `debugfs_create_dir` returned.
        Self { dentry }
    }

    /// Adds a read-only file `name` showing `value` in decimal.
    ///
    /// The file goes with the directory; `value` is `'static` so that it outlives the file.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicU64, Ordering};
    /// use kernel::{c_str, debugfs::Dir};
    ///
    /// static HITS: AtomicU64 = AtomicU64::new(0);
    ///
    /// let dir = Dir::new(c_str!("rust-doctest-u64"), None);
    /// dir.add_u64(c_str!("hits"), &HITS);
    /// HITS.fetch_add(1, Ordering::Relaxed);
    /// ```
    pub fn add_u64(&self, name: &CStr, value: &'static AtomicU64) {
        // SAFETY: `name` is a valid C string; the directory is valid (or an error pointer);
        // `value` lives forever and has the layout of a `u64`.
        unsafe {
            bindings::debugfs_create_u64(name.as_char_ptr(), 0o444, self.dentry, value.as_ptr())
        };
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: by the type invariant; `debugfs_remove` also waits for readers of the
        // files in the directory to finish.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

/// `N` event counters, updated with relaxed atomic additions.
pub struct Counters<const N: usize> {
    values: [AtomicU64; N],
}

impl<const N: usize> Counters<N> {
    /// `N` counters at zero.
    pub fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                values: [const { AtomicU64::new(0) }; N],
            },
            GFP_KERNEL,
        )?)
    }

    /// Adds `n` to counter `index` (ignored if out of range).
    pub fn add(&self, index: usize, n: u64) {
        if let Some(value) = self.values.get(index) {
            value.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The value of counter `index` (0 if out of range).
    pub fn get(&self, index: usize) -> u64 {
        self.values
            .get(index)
            .map_or(0, |v| v.load(Ordering::Relaxed))
    }
}

/// A debugfs directory with one read-only file per counter, each showing its value.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, debugfs::{CounterDir, Counters, Dir}};
///
/// let top = Dir::new(c_str!("rust-doctest-counters"), None);
/// let counters = Counters::<2>::new()?;
/// let dir = CounterDir::new(&top, c_str!("example"), [c_str!("hits"), c_str!("misses")],
///                           counters.clone());
/// counters.add(0, 3);
/// assert_eq!(dir.counters().get(0), 3);
/// assert_eq!(dir.counters().get(1), 0);
/// # Ok::<(), kernel::error::Error>(())
/// ```
///
/// # Invariants
///
/// The files of `dir` point into `counters`, which is kept alive until `dir` is removed
/// (fields drop in declaration order).
pub struct CounterDir<const N: usize> {
    _dir: Dir,
    counters: Arc<Counters<N>>,
}

impl<const N: usize> CounterDir<N> {
    /// Creates directory `name` in `parent` with a file for each counter, named by `names`.
    pub fn new(
        parent: &Dir,
        name: &CStr,
        names: [&'static CStr; N],
        counters: Arc<Counters<N>>,
    ) -> Self {
        let dir = Dir::new(name, Some(parent));
        for (name, value) in names.iter().zip(counters.values.iter()) {
            // SAFETY: `name` is a valid C string; the directory is valid (or an error pointer);
            // `value` stays valid until the directory is removed, by the type invariant, and
            // has the layout of a `u64`.
            unsafe {
                bindings::debugfs_create_u64(name.as_char_ptr(), 0o444, dir.dentry, value.as_ptr())
            };
        }
        // INVARIANT: `counters` is kept with the directory.
        Self {
            _dir: dir,
            counters,
        }
    }

    /// The counters.
    pub fn counters(&self) -> &Arc<Counters<N>> {
        &self.counters
    }
}
