// SPDX-License-Identifier: GPL-2.0

//! Dentries: names in a stacking filesystem's cache.
//!
//! Each positive dentry keeps the filesystem's [`FileSystem::Dentry`], set when the lookup
//! that made it succeeded (before the dentry is visible) and dropped when the dentry is freed.
//! Cached dentries are checked with [`FileSystem::revalidate`] before the VFS uses them, unless
//! what they were found in is unchanged ([`super::watch`]).
//!
//! C header: [`include/linux/dcache.h`](srctree/include/linux/dcache.h)

use super::{super_block::SuperBlock, watch, FileSystem};
use crate::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    bindings,
    error::{code::ECHILD, Result},
    ffi::{c_int, c_uint},
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::{
    ffi::c_void,
    marker::PhantomData,
    mem::MaybeUninit,
    ptr::NonNull,
    sync::atomic::{AtomicPtr, Ordering},
};

/// A dentry of a filesystem of type `T`, `struct dentry`.
///
/// # Invariants
///
/// The dentry belongs to a super block of `T` that is set up, its reference count is non-zero
/// while a `&Dentry` exists, and its `d_fsdata` is null or a `KBox<T::Dentry>` that lives until
/// the dentry is released.
#[repr(transparent)]
pub struct Dentry<T: FileSystem>(Opaque<bindings::dentry>, PhantomData<T>);

// SAFETY: dentries are reference counted atomically and `T::Dentry` is `Send + Sync`.
unsafe impl<T: FileSystem> Send for Dentry<T> {}

// SAFETY: shared references only read what does not change while the dentry is referenced.
unsafe impl<T: FileSystem> Sync for Dentry<T> {}

impl<T: FileSystem> Dentry<T> {
    /// Creates a reference to a dentry of `T`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a referenced dentry of a set-up super block of `T`, valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dentry) -> &'a Self {
        // SAFETY: `Self` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    fn raw(&self) -> *mut bindings::dentry {
        self.0.get()
    }

    /// What the filesystem keeps for this dentry; `None` for a negative dentry.
    pub fn data(&self) -> Option<&T::Dentry> {
        // SAFETY: `d_fsdata` is null or a box that lives while the dentry does (type invariant);
        // a negative dentry's may be published concurrently by `publish_data`, so it is read
        // atomically, with acquire ordering to see the data it points to.
        unsafe {
            fsdata(self.raw())
                .load(Ordering::Acquire)
                .cast::<T::Dentry>()
                .as_ref()
        }
    }

    /// Makes the dentry's inode watch the real paths its data has gained since the lookup
    /// (see [`FileSystem::watched`]), such as the upper copy of a copied-up object, so that
    /// direct changes to them show too. The inode has room for one more path; after more, its
    /// dentry and its names are always checked with [`FileSystem::revalidate`].
    pub fn watch_new_paths(&self) {
        if let Some(data) = self.data() {
            // SAFETY: the dentry is referenced and of type `T`, and `data` is its data.
            unsafe { watch::update::<T>(self.raw(), data) };
        }
    }

    /// The parent directory (the dentry itself for the root).
    pub fn parent(&self) -> ARef<Self> {
        // SAFETY: the dentry is valid; `dget_parent()` returns a referenced dentry of the same
        // super block.
        let parent = unsafe { bindings::dget_parent(self.raw()) };
        // SAFETY: `parent` is valid and the reference taken above belongs to the `ARef`.
        unsafe { ARef::from_raw(NonNull::new_unchecked(parent.cast())) }
    }

    /// The super block.
    pub fn super_block(&self) -> &SuperBlock<T> {
        // SAFETY: the super block is set up and outlives its dentries (type invariant).
        unsafe { SuperBlock::from_raw((*self.raw()).d_sb) }
    }

    /// What the super block keeps.
    pub fn super_data(&self) -> &T::Data {
        self.super_block().data()
    }

    /// The super block's device number.
    pub fn super_dev(&self) -> u32 {
        self.super_block().dev()
    }

    /// A copy of the dentry's name, as it is at the time of the call.
    pub fn name(&self) -> Result<KVec<u8>> {
        let mut snap = MaybeUninit::<bindings::name_snapshot>::uninit();
        // SAFETY: the dentry is valid; the snapshot is filled in place and may point into
        // itself, so it stays where it is until released below.
        unsafe { bindings::take_dentry_name_snapshot(snap.as_mut_ptr(), self.raw()) };
        // SAFETY: the snapshot was taken above; its name is valid for `len` bytes until it is
        // released.
        let name = unsafe {
            let qstr = &(*snap.as_ptr()).name;
            let len = qstr.__bindgen_anon_1.__bindgen_anon_1.len as usize;
            core::slice::from_raw_parts(qstr.name, len)
        };
        let mut copy = KVec::new();
        let copied = copy.extend_from_slice(name, GFP_KERNEL);
        // SAFETY: the snapshot was taken above and is released once.
        unsafe { bindings::release_dentry_name_snapshot(snap.as_mut_ptr()) };
        copied?;
        Ok(copy)
    }

    /// Takes the inode's attributes (type and permissions, owner, times, size) again from the
    /// real path, after the filesystem changed the real object.
    pub fn refresh_inode(&self) {
        // SAFETY: the dentry is valid; a positive dentry keeps its inode while referenced.
        let inode = unsafe { (*self.raw()).d_inode };
        let Some(data) = self.data() else { return };
        if inode.is_null() {
            return;
        }
        let real = T::real(data).raw_inode();
        // SAFETY: both inodes are referenced; these helpers copy fields the way stacking
        // filesystems keep their inodes in step with the real ones.
        unsafe {
            bindings::fsstack_copy_attr_all(inode, real);
            bindings::fsstack_copy_inode_size(inode, real);
        }
    }

    /// The inode number, if the dentry is positive.
    pub fn ino(&self) -> Option<u64> {
        // SAFETY: the dentry is valid, and a positive dentry of this filesystem keeps its inode
        // while referenced.
        let inode = unsafe { (*self.raw()).d_inode };
        // SAFETY: `inode` is valid if non-null, and its number does not change.
        (!inode.is_null()).then(|| unsafe { (*inode).i_ino as u64 })
    }
}

// SAFETY: `dget()` and `dput()` maintain the dentry's reference count, and the dentry is freed
// only after it drops to zero.
unsafe impl<T: FileSystem> AlwaysRefCounted for Dentry<T> {
    fn inc_ref(&self) {
        // SAFETY: the dentry is referenced (type invariant), so taking another is valid.
        unsafe { bindings::dget(self.raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference.
        unsafe { bindings::dput(obj.as_ptr().cast()) };
    }
}

/// The dentry operations of a filesystem of type `T`.
pub(crate) struct DentryOps<T>(PhantomData<T>);

impl<T: FileSystem> DentryOps<T> {
    pub(crate) const OPS: bindings::dentry_operations = bindings::dentry_operations {
        d_revalidate: Some(revalidate::<T>),
        d_release: Some(release::<T>),
        // SAFETY: all-zero is valid for the remaining operations: absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// # Safety
///
/// Called by the VFS with a dentry of a set-up super block of type `T`.
unsafe extern "C" fn revalidate<T: FileSystem>(
    dentry: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    // SAFETY: the VFS holds a reference to the dentry or walks under RCU; the root is never
    // revalidated. An unchanged stamp needs no look at the data.
    if unsafe { watch::still_valid(dentry, flags & bindings::LOOKUP_RCU != 0) } {
        return 1;
    }
    // In RCU walk the dentry may be on its way out and its data already dropped: ask for a
    // walk with references.
    if flags & bindings::LOOKUP_RCU != 0 {
        return ECHILD.to_errno();
    }
    // SAFETY: outside RCU walk the VFS holds a reference to the dentry.
    let stamp = unsafe { watch::take_stamp(dentry) };
    // SAFETY: as above.
    let dentry_ref = unsafe { Dentry::<T>::from_raw(dentry) };
    match T::revalidate(dentry_ref) {
        Ok(valid) => {
            if valid {
                // SAFETY: as above.
                unsafe { watch::keep_stamp(dentry, stamp) };
            }
            valid as c_int
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS when a dentry of type `T` is freed, once.
unsafe extern "C" fn release<T: FileSystem>(dentry: *mut bindings::dentry) {
    // SAFETY: the dentry is valid for the call.
    let data = unsafe { (*dentry).d_fsdata };
    if !data.is_null() {
        // SAFETY: `d_fsdata` is the box set at lookup (type invariant of `Dentry`), and this is
        // the last use of the dentry.
        drop(unsafe { KBox::from_raw(data.cast::<T::Dentry>()) });
    }
}

/// The dentry's `d_fsdata` as an atomic pointer.
///
/// # Safety
///
/// `dentry` must be valid for `'a`.
unsafe fn fsdata<'a>(dentry: *mut bindings::dentry) -> &'a AtomicPtr<c_void> {
    // SAFETY: `d_fsdata` is a valid, aligned pointer field for as long as the dentry is; all
    // concurrent accesses to it go through this function.
    unsafe { AtomicPtr::from_ptr(core::ptr::addr_of_mut!((*dentry).d_fsdata)) }
}

/// Gives a negative dentry, which is visible, the data of the object just made for it; fails
/// with `EIO` (dropping `data`) if it has data already.
///
/// # Safety
///
/// `dentry` must be a referenced dentry of `T`, with its parent directory locked by the caller.
pub(crate) unsafe fn publish_data<T: FileSystem>(
    dentry: *mut bindings::dentry,
    data: KBox<T::Dentry>,
) -> Result {
    let data = KBox::into_raw(data);
    // SAFETY: `dentry` is valid; release ordering publishes the initialised data.
    let set = unsafe { fsdata(dentry) }.compare_exchange(
        core::ptr::null_mut(),
        data.cast(),
        Ordering::Release,
        Ordering::Relaxed,
    );
    if set.is_err() {
        // SAFETY: `data` came from `into_raw` above and was not published.
        drop(unsafe { KBox::from_raw(data) });
        return Err(crate::error::code::EIO);
    }
    Ok(())
}

/// Keeps the data of a new positive dentry before it becomes visible.
///
/// # Safety
///
/// `dentry` must be a dentry of `T` being looked up by the caller and not yet visible, with a
/// null `d_fsdata`.
pub(crate) unsafe fn set_data<T: FileSystem>(dentry: *mut bindings::dentry, data: KBox<T::Dentry>) {
    // SAFETY: only the caller uses the dentry yet.
    unsafe { (*dentry).d_fsdata = KBox::into_raw(data).cast() };
}
