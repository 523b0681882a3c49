// SPDX-License-Identifier: GPL-2.0

//! Credentials.
//!
//! A task acts with a set of credentials (user and group ids, capabilities, security labels).
//! Credentials never change once published: a task that changes its identity installs a new
//! set. A filesystem that works on other filesystems on behalf of its users, such as a union
//! mount, keeps the credentials of the task that mounted it and acts with them
//! ([`Credential::with_override`]).
//!
//! C header: [`include/linux/cred.h`](srctree/include/linux/cred.h)

use crate::{
    bindings,
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::ptr::NonNull;

/// A set of credentials, `struct cred`.
///
/// # Invariants
///
/// Instances are only handed out by reference to a `struct cred` whose reference count is
/// non-zero for as long as the reference lives, or as [`ARef`]s that own a reference.
#[repr(transparent)]
pub struct Credential(Opaque<bindings::cred>);

// SAFETY: a published `struct cred` is immutable and its reference count is atomic, so it may be
// used and released from any thread.
unsafe impl Send for Credential {}

// SAFETY: as for `Send`: shared references only read immutable data or take references.
unsafe impl Sync for Credential {}

impl Credential {
    /// Returns the subjective credentials of the current task, with a reference of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::cred::Credential;
    ///
    /// let mine = Credential::current();
    /// // Acting with one's own credentials changes nothing.
    /// let inside = mine.with_override(Credential::current);
    /// assert_eq!(inside.as_ptr(), mine.as_ptr());
    /// assert_eq!(Credential::current().as_ptr(), mine.as_ptr());
    /// ```
    pub fn current() -> ARef<Self> {
        // SAFETY: `get_current_cred()` returns the current task's credentials with a new
        // reference, which is never null.
        let ptr = unsafe { bindings::get_current_cred() };
        // SAFETY: `ptr` is valid and the reference taken above now belongs to the `ARef`.
        unsafe { ARef::from_raw(NonNull::new_unchecked(ptr.cast_mut().cast())) }
    }

    /// Returns the raw `struct cred`.
    pub fn as_ptr(&self) -> *const bindings::cred {
        self.0.get()
    }

    /// Runs `f` with the current task acting with these credentials, then restores the task's
    /// own.
    ///
    /// The override is scoped to `f`, so it cannot outlive the call or be left in place.
    pub fn with_override<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: `self` is a valid `struct cred` (type invariant); `override_creds()` takes a
        // reference of its own for the duration of the override.
        let old = unsafe { bindings::override_creds(self.as_ptr()) };
        let ret = f();
        // SAFETY: `old` was returned by `override_creds()` on this task, and every override made
        // inside `f` was reverted before `f` returned, so the overrides nest.
        unsafe { bindings::revert_creds(old) };
        ret
    }
}

// SAFETY: `get_cred()` and `put_cred()` maintain the reference count of a `struct cred`, which
// is freed when it drops to zero.
unsafe impl AlwaysRefCounted for Credential {
    fn inc_ref(&self) {
        // SAFETY: the reference count is non-zero while `self` exists (type invariant).
        unsafe { bindings::get_cred(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference to a valid `struct cred`.
        unsafe { bindings::put_cred(obj.as_ptr().cast()) };
    }
}
