// SPDX-License-Identifier: GPL-2.0

//! A value set at most once, then read without locks.
//!
//! A stacking filesystem learns some facts about an object only later, and then for good: the
//! upper copy of an object made by copy-up never goes away while the stacked dentry lives.
//! Readers must see either no value or the whole value, without taking a lock on every access.

use core::{
    cell::UnsafeCell,
    mem::MaybeUninit,
    sync::atomic::{AtomicU8, Ordering},
};

const EMPTY: u8 = 0;
const SETTING: u8 = 1;
const SET: u8 = 2;

/// A cell that is empty or holds a value set once, which then lives as long as the cell.
///
/// # Invariants
///
/// `value` is initialised exactly when `state` is `SET`; once `SET`, `state` never changes and
/// `value` is never written again.
///
/// # Examples
///
/// ```
/// use kernel::vfs::set_once::SetOnce;
///
/// let cell = SetOnce::new();
/// assert_eq!(cell.get(), None);
/// assert_eq!(cell.set(1u32), Ok(()));
/// // The first value stays: the second comes back.
/// assert_eq!(cell.set(2), Err(2));
/// assert_eq!(cell.get(), Some(&1));
/// assert_eq!(SetOnce::with(3u32).get(), Some(&3));
/// ```
pub struct SetOnce<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by the thread that won the `EMPTY` to `SETTING` exchange,
// before `SET` is published with release ordering; shared references then only read it.
unsafe impl<T: Send + Sync> Sync for SetOnce<T> {}

// SAFETY: moving the cell moves the value, which may move between threads.
unsafe impl<T: Send> Send for SetOnce<T> {}

impl<T> SetOnce<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        // INVARIANT: empty, and nothing is initialised.
        Self {
            state: AtomicU8::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// A cell holding `value`.
    pub const fn with(value: T) -> Self {
        // INVARIANT: set, and the value is initialised.
        Self {
            state: AtomicU8::new(SET),
            value: UnsafeCell::new(MaybeUninit::new(value)),
        }
    }

    /// The value, if it is set.
    pub fn get(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) != SET {
            return None;
        }
        // SAFETY: `SET` was published after the value was written, and it is never written
        // again (type invariant).
        Some(unsafe { (*self.value.get()).assume_init_ref() })
    }

    /// Sets the value if the cell is empty; otherwise (also while another thread is setting
    /// it) gives `value` back.
    pub fn set(&self, value: T) -> Result<(), T> {
        if self
            .state
            .compare_exchange(EMPTY, SETTING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: winning the exchange makes this the only writer, and no reader looks at the
        // value before `SET`.
        unsafe { (*self.value.get()).write(value) };
        // INVARIANT: the value is initialised before `SET` is published.
        self.state.store(SET, Ordering::Release);
        Ok(())
    }
}

impl<T> Default for SetOnce<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for SetOnce<T> {
    fn drop(&mut self) {
        if *self.state.get_mut() == SET {
            // SAFETY: the value is initialised (type invariant) and dropped once, here.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}
