// SPDX-License-Identifier: GPL-2.0

//! Cheap revalidation: trusting a cached dentry while the layer directories it came from are
//! unchanged.
//!
//! A stacking filesystem that looks every cached name up again in its layers
//! ([`FileSystem::revalidate`]) sees direct changes to the layers, but pays a lookup per layer
//! for every path component, and cannot let the VFS walk paths under RCU. Instead, each inode
//! of the filesystem may watch real inodes ([`FileSystem::watched`]): a directory its layer
//! directories, any other object its real one. When a name is looked up, or found still right
//! by `revalidate`, its dentry keeps a stamp of what it was found in and what it shows: the
//! state of its parent's watched inodes and of its own. While the stamp is unchanged, the
//! dentry is trusted without calling the filesystem, also in RCU walk.
//!
//! A watched inode's state is its `i_version` and change time. Every change of a directory's
//! names sets its change time (and bumps `i_version` on filesystems that keep one), so a name
//! added to or removed from a watched directory changes the stamp, as does a change of a
//! watched object's attributes or extended attributes (a directory made opaque). Change times
//! are only as fine as the clock tick: no stamp is kept of an inode changed within the last
//! [`RECENT_NS`], so that a later change within the same tick cannot go unseen. A kept stamp is
//! then checked without reading the clock.
//!
//! Watched inodes are kept as plain pointers in the filesystem's inode, freed after an RCU
//! grace period with it: the real inodes are referenced by the dentry's data for as long as
//! the dentry is in use, and are themselves freed after a grace period, so an RCU walker that
//! races with the dentry's release reads stale but valid memory, and the walk's own sequence
//! checks throw the result away.
//!
//! C header: [`include/linux/iversion.h`](srctree/include/linux/iversion.h)

use super::{path::Path, FileSystem};
use crate::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    bindings,
    error::Result,
};
use core::{
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};

/// How long after its last change a watched directory is not trusted, in nanoseconds: more than
/// two clock ticks at the lowest `HZ` (100).
pub const RECENT_NS: i64 = 25_000_000;

/// The watched inodes of one inode of a stacking filesystem, in its `i_private`.
///
/// # Invariants
///
/// Each pointer in `inodes`, and `extra` if not null, is a real inode that the dentry of the
/// inode keeps referenced through its data while the dentry is in use.
pub(crate) struct Watched {
    inodes: KVec<*mut bindings::inode>,
    /// One inode the dentry's data gained later (the upper copy of a copied-up object).
    extra: AtomicPtr<bindings::inode>,
    /// Set when the data gained more than `extra` can hold: the stamps can no longer be
    /// trusted.
    overflow: AtomicBool,
}

impl Watched {
    /// Collects the inodes `T` watches for a dentry with `data`; `None` if it watches none.
    pub(crate) fn of<T: FileSystem>(data: &T::Dentry) -> Result<Option<KBox<Self>>> {
        let mut inodes = KVec::new();
        let mut res: Result = Ok(());
        T::watched(data, &mut |path: &Path| {
            if res.is_ok() {
                res = inodes
                    .push(path.raw_inode(), GFP_KERNEL)
                    .map_err(Into::into);
            }
        });
        res?;
        if inodes.is_empty() {
            return Ok(None);
        }
        // INVARIANT: the paths are part of `data`, which the new dentry keeps.
        Ok(Some(KBox::new(
            Self {
                inodes,
                extra: AtomicPtr::new(ptr::null_mut()),
                overflow: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?))
    }

    /// Watches what `data`, the data of the dentry of the inode, watches now and did not
    /// before.
    fn update<T: FileSystem>(&self, data: &T::Dentry) {
        T::watched(data, &mut |path: &Path| {
            let inode = path.raw_inode();
            if self.inodes.contains(&inode) {
                return;
            }
            // INVARIANT: `path` is part of `data`, which the dentry keeps.
            let set = self.extra.compare_exchange(
                ptr::null_mut(),
                inode,
                Ordering::Release,
                Ordering::Acquire,
            );
            if set.is_err_and(|other| other != inode) {
                self.overflow.store(true, Ordering::Release);
            }
        });
    }

    /// Mixes the state of the watched inodes into `hash`; `None` if one changed recently and the
    /// stamp is to be kept.
    ///
    /// # Safety
    ///
    /// The watched inodes must be valid memory: referenced, or the caller is in an RCU
    /// read-side critical section.
    unsafe fn stamp(&self, mut hash: u64, mode: Mode) -> Option<u64> {
        if self.overflow.load(Ordering::Acquire) {
            return None;
        }
        let extra = self.extra.load(Ordering::Acquire);
        let extra = (!extra.is_null()).then_some(extra);
        for &inode in self.inodes.iter().chain(extra.iter()) {
            // SAFETY: `inode` is valid memory (the caller's guarantee). The fields read may
            // change concurrently; a torn or stale read only makes the stamp differ, or
            // matches a state the inode was in, which is what an unlocked check can promise.
            let (version, sec, nsec) = unsafe {
                let version = if let Mode::Take { .. } = mode {
                    bindings::inode_query_iversion(inode)
                } else {
                    // `inode_peek_iversion()`: the count is above the "queried" flag bit.
                    (ptr::read_volatile(ptr::addr_of!((*inode).i_version.counter)) as u64) >> 1
                };
                (
                    version,
                    ptr::read_volatile(ptr::addr_of!((*inode).i_ctime_sec)),
                    ptr::read_volatile(ptr::addr_of!((*inode).i_ctime_nsec)),
                )
            };
            let ctime_ns = sec
                .saturating_mul(1_000_000_000)
                .saturating_add(i64::from(nsec));
            if let Mode::Take { now_ns } = mode {
                if now_ns.saturating_sub(ctime_ns) < RECENT_NS {
                    return None;
                }
            }
            // One round per inode: the change time in nanoseconds and the version only grow
            // as the inode changes, so their sum does too; the address tells the inodes apart.
            let state = (ctime_ns as u64).wrapping_add(version.rotate_left(40)) ^ inode as u64;
            hash = (hash.rotate_left(23) ^ state).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        Some(hash)
    }
}

/// Keeps `watched` in a new inode of a stacking filesystem.
///
/// # Safety
///
/// `inode` must be a new inode of a filesystem whose `free_inode` is [`free`], not visible yet.
pub(crate) unsafe fn set(inode: *mut bindings::inode, watched: Option<KBox<Watched>>) {
    if let Some(watched) = watched {
        // SAFETY: the inode is new and only the caller's.
        unsafe { (*inode).i_private = KBox::into_raw(watched).cast() };
    }
}

/// Frees what [`set`] kept, from the inode's RCU-delayed `free_inode`.
///
/// # Safety
///
/// `inode` must be an inode of a stacking filesystem whose grace period has ended.
pub(crate) unsafe fn free(inode: *mut bindings::inode) {
    // SAFETY: `i_private` is null or the box `set` stored; no walker can see the inode any more.
    let watched = unsafe { (*inode).i_private };
    if !watched.is_null() {
        // SAFETY: as above, this is the last use of the box.
        drop(unsafe { KBox::from_raw(watched.cast::<Watched>()) });
    }
}

/// The watched inodes an inode keeps, if any.
///
/// # Safety
///
/// `inode` must be null or an inode of a stacking filesystem, valid memory as for
/// [`Watched::stamp`].
unsafe fn watched_of<'a>(inode: *const bindings::inode) -> Option<&'a Watched> {
    if inode.is_null() {
        return None;
    }
    // SAFETY: `i_private` is set before the inode is visible and freed after a grace period
    // (see `set` and `free`).
    unsafe {
        ptr::read_volatile(ptr::addr_of!((*inode).i_private))
            .cast::<Watched>()
            .as_ref()
    }
}

/// An RCU read-side critical section, for as long as it lives.
struct RcuReadLock;

impl RcuReadLock {
    fn new() -> Self {
        // SAFETY: always allowed; ended by `drop`.
        unsafe { bindings::rcu_read_lock() };
        Self
    }
}

impl Drop for RcuReadLock {
    fn drop(&mut self) {
        // SAFETY: started by `new`.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// The current time, in nanoseconds, as coarse as change times are.
fn coarse_now_ns() -> i64 {
    let mut ts = bindings::timespec64::default();
    // SAFETY: `ts` is a valid output buffer.
    unsafe { bindings::ktime_get_coarse_real_ts64(&mut ts) };
    ts.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as i64)
}

/// How a stamp is taken.
#[derive(Clone, Copy)]
enum Mode {
    /// To be kept, at time `now_ns`: marks the versions as seen, so that filesystems that bump
    /// them only when someone looks do so on the next change, and fails if something changed
    /// recently.
    Take { now_ns: i64 },
    /// To be compared with a kept stamp. A kept stamp was not taken of a recent change, so a
    /// change since then has a later change time and shows: no clock is read.
    Check,
}

impl Mode {
    fn take() -> Self {
        Self::Take {
            now_ns: coarse_now_ns(),
        }
    }
}

/// The part of a dentry's stamp that comes from its parent directory inode `dir`, to be kept:
/// `None` if it cannot be trusted (the parent watches nothing, or something it watches changed
/// recently).
///
/// # Safety
///
/// `dir` must be an inode of a stacking filesystem, valid memory as for [`Watched::stamp`].
pub(crate) unsafe fn parent_stamp(dir: *const bindings::inode) -> Option<u64> {
    // SAFETY: the caller's guarantee.
    unsafe { parent_part(dir, Mode::take()) }
}

/// The part of a dentry's stamp that comes from `dir`.
///
/// # Safety
///
/// As for [`parent_stamp`].
unsafe fn parent_part(dir: *const bindings::inode, mode: Mode) -> Option<u64> {
    // SAFETY: the caller's guarantee.
    let parent = unsafe { watched_of(dir) }?;
    // SAFETY: as above.
    unsafe { parent.stamp(0, mode) }
}

/// A dentry's whole stamp, from its parent's part and its inode `inode` (null if negative): 0
/// if it cannot be trusted.
///
/// # Safety
///
/// `inode` must be null or an inode of a stacking filesystem, valid memory as for
/// [`Watched::stamp`].
unsafe fn full_stamp(parent: Option<u64>, inode: *const bindings::inode, mode: Mode) -> u64 {
    // SAFETY: the caller's guarantee.
    let own = unsafe { watched_of(inode) };
    let hash = parent.and_then(|h| match own {
        // SAFETY: as above.
        Some(own) => unsafe { own.stamp(h, mode) },
        None => Some(h),
    });
    // 0 means "untrusted".
    hash.map_or(0, |h| h.max(1))
}

/// Gives a dentry just looked up, with new inode `inode` (or null), its stamp: `parent`, the
/// [`parent_stamp`] taken before the lookup read the layers, and the state of the inode's own
/// watched inodes now. A change to those between the lookup and now is recent, so it makes
/// the stamp untrusted.
///
/// # Safety
///
/// `dentry` must not be visible yet, and `inode` be null or its new inode.
pub(crate) unsafe fn set_stamp(
    dentry: *mut bindings::dentry,
    inode: *const bindings::inode,
    parent: Option<u64>,
) {
    // SAFETY: the caller's guarantees.
    unsafe { (*dentry).d_time = full_stamp(parent, inode, Mode::take()) as _ };
}

/// The stamp of `dentry` as it is now: 0 if it cannot be trusted.
///
/// # Safety
///
/// `dentry` must be a dentry of a stacking filesystem and not its root, with the caller in an
/// RCU read-side critical section.
unsafe fn stamp_of(dentry: *mut bindings::dentry, mode: Mode) -> u64 {
    // SAFETY: the dentry is valid memory (the caller's guarantee) and, under RCU, so are its
    // parent, even if a rename moves it away, and their inodes.
    unsafe {
        let parent = ptr::read_volatile(ptr::addr_of!((*dentry).d_parent));
        let dir = ptr::read_volatile(ptr::addr_of!((*parent).d_inode));
        let inode = ptr::read_volatile(ptr::addr_of!((*dentry).d_inode));
        if dir.is_null() {
            return 0;
        }
        full_stamp(parent_part(dir, mode), inode, mode)
    }
}

/// Returns whether the cached `dentry` can be trusted without asking its filesystem.
///
/// # Safety
///
/// `dentry` must be a dentry of a stacking filesystem and not its root, referenced or in an RCU
/// read-side critical section (`in_rcu`).
pub(crate) unsafe fn still_valid(dentry: *mut bindings::dentry, in_rcu: bool) -> bool {
    // An RCU path walk is in a read-side critical section already.
    let _rcu = (!in_rcu).then(RcuReadLock::new);
    // SAFETY: the dentry is valid memory (the caller's guarantee).
    let kept = unsafe { ptr::read_volatile(ptr::addr_of!((*dentry).d_time)) } as u64;
    // SAFETY: the caller's guarantee, and RCU as above.
    kept != 0 && unsafe { stamp_of(dentry, Mode::Check) } == kept
}

/// Takes a full stamp of `dentry`, before its filesystem checks it against the layers: if the
/// check finds it right, [`keep_stamp`] keeps it.
///
/// # Safety
///
/// `dentry` must be a referenced dentry of a stacking filesystem, not its root.
pub(crate) unsafe fn take_stamp(dentry: *mut bindings::dentry) -> u64 {
    let _rcu = RcuReadLock::new();
    // SAFETY: the caller's guarantee, under RCU.
    unsafe { stamp_of(dentry, Mode::take()) }
}

/// Keeps `stamp`, taken by [`take_stamp`] before a check that found `dentry` right.
///
/// # Safety
///
/// `dentry` must be a referenced dentry of a stacking filesystem.
pub(crate) unsafe fn keep_stamp(dentry: *mut bindings::dentry, stamp: u64) {
    // SAFETY: the dentry is valid; `d_time` is the filesystem's, and racing writers store
    // stamps that were each right when taken.
    unsafe { ptr::write_volatile(ptr::addr_of_mut!((*dentry).d_time), stamp as _) };
}

/// Makes the inode of `dentry` watch what its data watches now ([`FileSystem::watched`]), after
/// the data gained a real path.
///
/// # Safety
///
/// `dentry` must be a referenced dentry of a filesystem of type `T`, with data `data`.
pub(crate) unsafe fn update<T: FileSystem>(dentry: *mut bindings::dentry, data: &T::Dentry) {
    // SAFETY: a referenced dentry keeps its inode; a positive dentry of a stacking filesystem
    // stays positive while referenced.
    let inode = unsafe { ptr::read_volatile(ptr::addr_of!((*dentry).d_inode)) };
    // SAFETY: as above.
    if let Some(watched) = unsafe { watched_of(inode) } {
        watched.update::<T>(data);
    }
}
