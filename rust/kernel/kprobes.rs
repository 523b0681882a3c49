// SPDX-License-Identifier: GPL-2.0

//! Kernel probes on function entry.
//!
//! A [`Kprobe`] runs a handler each time a kernel function is entered, with the function's
//! arguments at hand. It is how a module observes a code path that has no tracepoint or
//! notifier of its own.
//!
//! The handler runs in the probe's context: with preemption disabled, and on x86 (where the
//! probe is a breakpoint until it is optimised) in an NMI-like context. It must not sleep, take
//! locks or allocate memory; work that needs any of that is handed to process context, for
//! example through an [`irq_work`](srctree/include/linux/irq_work.h) and a workqueue.
//!
//! C header: [`include/linux/kprobes.h`](srctree/include/linux/kprobes.h)

use crate::{
    bindings, container_of,
    error::{to_result, Error},
    ffi::c_int,
    init,
    prelude::*,
    str::CStr,
    types::Opaque,
};
use core::ptr::addr_of_mut;

/// The registers of a CPU as a probed function is entered.
///
/// # Invariants
///
/// The registers are those at the entry of the probed function, valid for the handler call.
#[repr(transparent)]
pub struct Regs(Opaque<bindings::pt_regs>);

impl Regs {
    /// Creates a reference to the registers at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to the registers at the entry of a function, valid for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::pt_regs) -> &'a Self {
        // SAFETY: `Regs` is a transparent wrapper of `pt_regs`; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    /// The value of the `n`-th argument (from 0) of the probed function, as an integer.
    ///
    /// Only arguments passed in registers are available (six on x86-64); for a larger `n` the
    /// result is 0. The value is the bits the caller passed: a pointer argument is only an
    /// address here, and what it points to may only be used with the guarantees the probed
    /// function gives its own callers.
    pub fn arg(&self, n: u32) -> usize {
        // SAFETY: by the type invariant the registers are valid and are those at function entry,
        // which is what `regs_get_kernel_argument` expects.
        unsafe { bindings::regs_get_kernel_argument(self.0.get(), n) as usize }
    }
}

/// What a [`Kprobe`] does when its function is entered.
pub trait KprobeHandler: Send + Sync {
    /// Called on entry of the probed function, before its first instruction.
    ///
    /// Context: atomic, NMI-like on x86: must not sleep, take locks or allocate.
    fn pre(&self, regs: &Regs);
}

/// A probe on the entry of a kernel function, registered while this object exists.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering};
/// use kernel::{c_str, kprobes::{Kprobe, KprobeHandler, Regs}, prelude::*};
///
/// // Counts allocations of 4242 bytes: `krealloc(p, new_size, flags)` is what Rust's
/// // allocator calls.
/// struct Count(AtomicUsize);
///
/// impl KprobeHandler for Count {
///     fn pre(&self, regs: &Regs) {
///         if regs.arg(1) == 4242 {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// let probe = KBox::pin_init(
///     Kprobe::new(c_str!("krealloc_noprof"), Count(AtomicUsize::new(0))),
///     GFP_KERNEL,
/// )?;
/// let buf = KVec::<u8>::with_capacity(4242, GFP_KERNEL)?;
/// assert!(probe.handler().0.load(Ordering::Relaxed) >= 1);
/// drop(buf);
///
/// // No such function: no probe.
/// let none = KBox::pin_init(
///     Kprobe::new(c_str!("no_such_function_for_kprobes"), Count(AtomicUsize::new(0))),
///     GFP_KERNEL,
/// );
/// assert_eq!(none.err(), Some(ENOENT));
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `kp` is registered with the kprobes core, with `Self::pre_handler` as its handler, from
/// the end of initialisation until drop.
pub struct Kprobe<T: KprobeHandler> {
    handler: T,
    kp: Opaque<bindings::kprobe>,
}

// SAFETY: the C side only calls the handler, which is `Sync`, from any CPU; the registration may
// be dropped from any thread.
unsafe impl<T: KprobeHandler> Send for Kprobe<T> {}

// SAFETY: `&Kprobe` only gives access to `&T`, and `T: Sync`.
unsafe impl<T: KprobeHandler> Sync for Kprobe<T> {}

impl<T: KprobeHandler> Kprobe<T> {
    /// Registers a probe on the entry of the function called `symbol`, running `handler`.
    ///
    /// Fails with `ENOENT` if there is no such function, and with `EINVAL` if it may not be
    /// probed.
    pub fn new(symbol: &'static CStr, handler: T) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // The handler is written before the probe is registered: it may run at once.
            // SAFETY: `slot` is valid for writes.
            unsafe { addr_of_mut!((*slot).handler).write(handler) };
            // SAFETY: `slot` is valid for writes.
            let kp = Opaque::raw_get(unsafe { addr_of_mut!((*slot).kp) });
            // SAFETY: `kp` is valid for writes; an all-zero `kprobe` is its C initialiser.
            unsafe { kp.write(core::mem::zeroed()) };
            // SAFETY: `kp` is valid and initialised.
            unsafe {
                (*kp).symbol_name = symbol.as_char_ptr();
                (*kp).pre_handler = Some(Self::pre_handler);
            }
            // SAFETY: `kp` is pinned (the closure never moves `*slot`) and stays registered
            // until `drop` unregisters it; the handler it calls is initialised.
            let ret = to_result(unsafe { bindings::register_kprobe(kp) });
            if ret.is_err() {
                // SAFETY: the handler was written above and nothing else refers to it.
                unsafe { core::ptr::drop_in_place(addr_of_mut!((*slot).handler)) };
            }
            ret
        };
        // SAFETY: on success every field is initialised; on failure the handler was dropped and
        // `kp` needs no cleanup. The closure never moves `*slot`.
        unsafe { init::pin_init_from_closure(init) }
    }

    /// The handler.
    pub fn handler(&self) -> &T {
        &self.handler
    }

    unsafe extern "C" fn pre_handler(
        kp: *mut bindings::kprobe,
        regs: *mut bindings::pt_regs,
    ) -> c_int {
        let kp = kp.cast::<Opaque<bindings::kprobe>>();
        // SAFETY: the kprobes core only calls this for a registered `kp`, which by the type
        // invariant is the `kp` field of a `Kprobe<T>`.
        let this = unsafe { &*container_of!(kp, Self, kp) };
        // SAFETY: the kprobes core passes the registers at entry of the probed function, valid
        // for the duration of this call.
        this.handler.pre(unsafe { Regs::from_raw(regs) });
        // 0: let the probed function run normally.
        0
    }
}

impl<T: KprobeHandler> Drop for Kprobe<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `kp` is registered. `unregister_kprobe` returns once no
        // handler runs any more, so `handler` may be dropped after it.
        unsafe { bindings::unregister_kprobe(self.kp.get()) };
    }
}
