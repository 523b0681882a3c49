// SPDX-License-Identifier: GPL-2.0

//! Memory management: the virtual memory areas a driver maps, and user address ranges.
//!
//! A driver's `mmap` file operation receives the new area (`struct vm_area_struct`) before it
//! becomes visible to user space; [`VmArea`] is what such a handler may inspect and change.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

mod pinned_page;
mod shared_page;

pub use pinned_page::PinnedPage;
pub use shared_page::SharedPage;

use crate::{
    bindings,
    error::{to_result, Result},
    page::Page,
    types::Opaque,
};

/// The flags of a virtual memory area (`vm_flags_t`, the `VM_*` constants).
pub mod flags {
    use crate::bindings;

    /// A set of `VM_*` flags.
    pub type Flags = bindings::vm_flags_t;

    /// Pages may be read.
    pub const READ: Flags = bindings::VM_READ as Flags;
    /// Pages may be written.
    pub const WRITE: Flags = bindings::VM_WRITE as Flags;
    /// Pages may be executed.
    pub const EXEC: Flags = bindings::VM_EXEC as Flags;
    /// Writes go to the shared object rather than to a private copy.
    pub const SHARED: Flags = bindings::VM_SHARED as Flags;
    /// `mprotect()` may later add [`READ`].
    pub const MAYREAD: Flags = bindings::VM_MAYREAD as Flags;
    /// `mprotect()` may later add [`WRITE`].
    pub const MAYWRITE: Flags = bindings::VM_MAYWRITE as Flags;
    /// `mprotect()` may later add [`EXEC`].
    pub const MAYEXEC: Flags = bindings::VM_MAYEXEC as Flags;
    /// The area cannot grow with `mremap()`.
    pub const DONTEXPAND: Flags = bindings::VM_DONTEXPAND as Flags;
    /// The area is left out of core dumps.
    pub const DONTDUMP: Flags = bindings::VM_DONTDUMP as Flags;
}

/// A virtual memory area being set up by a driver's `mmap` handler.
///
/// # Examples
///
/// An `mmap` handler that maps one zeroed page, read-only, at the start of the area:
///
/// ```
/// use kernel::{mm::{flags, VmArea}, page::Page, prelude::*};
///
/// fn map_one_page(vma: &VmArea, page: &Page) -> Result {
///     if vma.len() != kernel::page::PAGE_SIZE || vma.pgoff() != 0 {
///         return Err(EINVAL);
///     }
///     if vma.flags() & flags::WRITE != 0 {
///         return Err(EACCES);
///     }
///     // Also refuse a later `mprotect(PROT_WRITE)`.
///     vma.clear_flags(flags::MAYWRITE);
///     vma.insert_page(vma.start(), page)
/// }
///
/// // The mapping itself needs a real `mmap()` call; see the misc device sample.
/// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// let _ = map_one_page;
/// # drop(page);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// The wrapped `vm_area_struct` is valid, and the caller holds the `mmap_lock` of its address
/// space for writing, for as long as a `&VmArea` exists.
#[repr(transparent)]
pub struct VmArea(Opaque<bindings::vm_area_struct>);

impl VmArea {
    /// Borrows a C virtual memory area.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `vm_area_struct` whose address space's `mmap_lock` the caller
    /// holds for writing for the whole lifetime `'a`, as in an `mmap` file operation.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::vm_area_struct) -> &'a Self {
        // SAFETY: `VmArea` is a transparent wrapper of `vm_area_struct`, and the caller promises
        // the area stays valid and locked for `'a`.
        // INVARIANT: the caller holds the `mmap_lock` for writing for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn as_raw(&self) -> *mut bindings::vm_area_struct {
        self.0.get()
    }

    /// The first user address of the area.
    pub fn start(&self) -> usize {
        // SAFETY: the area is valid by the type invariant; `vm_start` is stable under the lock.
        unsafe { (*self.as_raw()).__bindgen_anon_1.__bindgen_anon_1.vm_start }
    }

    /// The first user address past the end of the area.
    pub fn end(&self) -> usize {
        // SAFETY: the area is valid by the type invariant; `vm_end` is stable under the lock.
        unsafe { (*self.as_raw()).__bindgen_anon_1.__bindgen_anon_1.vm_end }
    }

    /// The size of the area in bytes.
    pub fn len(&self) -> usize {
        self.end() - self.start()
    }

    /// Whether the area is empty (never true for an area being mapped).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The offset into the mapped file, in pages: `mmap()`'s offset divided by the page size.
    pub fn pgoff(&self) -> usize {
        // SAFETY: the area is valid by the type invariant; `vm_pgoff` is stable under the lock.
        unsafe { (*self.as_raw()).vm_pgoff }
    }

    /// The area's flags (see [`flags`]).
    pub fn flags(&self) -> flags::Flags {
        // SAFETY: the area is valid by the type invariant, and the flags only change under the
        // `mmap_lock`, which the caller holds.
        unsafe { (*self.as_raw()).__bindgen_anon_2.vm_flags }
    }

    /// Adds `flags` to the area's flags.
    pub fn set_flags(&self, flags: flags::Flags) {
        // SAFETY: the area is valid and its `mmap_lock` is held for writing, as
        // `vm_flags_set()` requires.
        unsafe { bindings::vm_flags_set(self.as_raw(), flags) };
    }

    /// Removes `flags` from the area's flags.
    pub fn clear_flags(&self, flags: flags::Flags) {
        // SAFETY: the area is valid and its `mmap_lock` is held for writing, as
        // `vm_flags_clear()` requires.
        unsafe { bindings::vm_flags_clear(self.as_raw(), flags) };
    }

    /// Maps `page` at user address `address` of the area.
    ///
    /// The mapping takes its own reference to the page, so the page stays allocated for as long
    /// as any process maps it, even after `page` is dropped. Fails with `EFAULT` when `address`
    /// is outside the area and `EINVAL` for a page that cannot be mapped (such as a slab page).
    pub fn insert_page(&self, address: usize, page: &Page) -> Result {
        // SAFETY: the area is valid and locked for writing, and `page.as_ptr()` is a valid page
        // for the duration of the call; `vm_insert_page()` takes its own reference.
        to_result(unsafe { bindings::vm_insert_page(self.as_raw(), address as _, page.as_ptr()) })
    }
}

/// Whether `[addr, addr + len)` lies wholly in the user part of the address space, as
/// `access_ok()` checks: a check of the numbers only, not of what is mapped there.
///
/// # Examples
///
/// ```
/// use kernel::{mm::is_user_range, page::PAGE_SIZE};
///
/// assert!(is_user_range(0x10000, PAGE_SIZE));
/// assert!(!is_user_range(usize::MAX - PAGE_SIZE, PAGE_SIZE));
/// // The range wraps around the end of the address space.
/// assert!(!is_user_range(0x10000, usize::MAX));
/// ```
pub fn is_user_range(addr: usize, len: usize) -> bool {
    // SAFETY: `access_ok()` only compares `addr` and `len` with the user address limit.
    unsafe { bindings::access_ok(addr as _, len as _) }
}
