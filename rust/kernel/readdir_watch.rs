// SPDX-License-Identifier: GPL-2.0

//! Watching directory reads.
//!
//! A [`ReaddirWatch`] sees every `iterate_dir()` call, the heart of `getdents()`, through a
//! kprobe on its entry. Its handler picks the calls it cares about there, in the probe's atomic
//! context ([`ReaddirHandler::want`]); each picked call becomes a [`ReaddirEvent`] that holds
//! the directory (and keeps its file system alive), and the handler gets the events again in
//! process context, in order, on a workqueue of the watch's own ([`ReaddirHandler::handle`]).
//!
//! The path from the probe to the workqueue takes no lock and allocates nothing: a fixed ring
//! of event slots, then an `irq_work` (safe to raise from NMI-like contexts) that queues the
//! work. When the ring is full, events are dropped and counted.
//!
//! Dropping the watch unregisters the probe, then waits for every queued event to be handled,
//! so the handler's code and data are unused once the drop returns.

use crate::{
    bindings, c_str, container_of,
    error::{code::ENOMEM, Result},
    file::File,
    inode::ActiveInode,
    kprobes::{Kprobe, KprobeHandler, Regs},
    prelude::*,
    str::CStr,
    types::Opaque,
};
use core::{
    cell::UnsafeCell,
    mem::MaybeUninit,
    ptr::NonNull,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// What a [`ReaddirWatch`] does with directory reads.
pub trait ReaddirHandler: Send + Sync + 'static {
    /// Decides whether the read of `file` that is starting should become an event.
    ///
    /// Context: a kprobe handler, atomic and NMI-like on x86: must not sleep, take locks or
    /// allocate. It should be quick: it runs on every `getdents()` call in the system.
    fn want(&self, file: &File) -> bool;

    /// Handles an event [`ReaddirHandler::want`] asked for.
    ///
    /// Context: process context (a workqueue); may sleep. Events are handled one at a time, in
    /// the order of the calls.
    fn handle(&self, event: ReaddirEvent);
}

/// One directory read, as [`ReaddirHandler::handle`] gets it.
pub struct ReaddirEvent {
    /// The directory, held with its file system.
    pub dir: ActiveInode,
    /// The file position at which the read started: 0 for a new listing; the file system's
    /// end-of-directory value (such as `i_size`, or ext4's hash EOF) once it has all been read.
    pub pos: i64,
}

/// Event slots; a power of two.
const SLOTS: usize = 64;

/// A slot of the ring. `seq` says whose turn it is (the bounded MPMC queue of D. Vyukov):
/// `seq == i` free for the producer at ticket `i`; `seq == i + 1` full for the consumer at
/// ticket `i`.
struct Slot {
    seq: AtomicUsize,
    event: UnsafeCell<MaybeUninit<Option<ReaddirEvent>>>,
}

/// A bounded lock-free queue of events, safe to push to from NMI-like contexts.
///
/// # Invariants
///
/// A slot's `event` is initialised exactly while its `seq` says it is full, and only the holder
/// of the ticket that `seq` names accesses it.
struct Ring {
    slots: [Slot; SLOTS],
    head: AtomicUsize,
    tail: AtomicUsize,
}

// SAFETY: the events are `Send`; the ticket protocol gives each slot one owner at a time.
unsafe impl Sync for Ring {}

impl Ring {
    fn new() -> Self {
        // INVARIANT: every slot is free for the ticket of its index; no event is initialised.
        Self {
            slots: core::array::from_fn(|i| Slot {
                seq: AtomicUsize::new(i),
                event: UnsafeCell::new(MaybeUninit::uninit()),
            }),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    /// Claims a free slot and fills it with `make()`; false (and `make` not called) if the ring is
    /// full.
    fn push_with(&self, make: impl FnOnce() -> Option<ReaddirEvent>) -> bool {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos % SLOTS];
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as isize;
            if diff == 0 {
                match self.head.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: ticket `pos` is ours, the slot is free for it: nobody else
                        // accesses `event` until `seq` is published below.
                        unsafe { (*slot.event.get()).write(make()) };
                        // INVARIANT: the event is initialised, then the slot is marked full.
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return true;
                    }
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                return false;
            } else {
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes the oldest published event; `None` if there is none (yet).
    fn pop(&self) -> Option<Option<ReaddirEvent>> {
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos % SLOTS];
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if diff == 0 {
                match self.tail.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: ticket `pos` is ours and the slot is full: the event is
                        // initialised, and moved out exactly once here.
                        let event = unsafe { (*slot.event.get()).assume_init_read() };
                        // INVARIANT: the event was moved out; the slot is free for the producer
                        // one lap later.
                        slot.seq.store(pos.wrapping_add(SLOTS), Ordering::Release);
                        return Some(event);
                    }
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                return None;
            } else {
                pos = self.tail.load(Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

/// A workqueue, destroyed (after running all its work) when dropped.
///
/// # Invariants
///
/// The pointer is a workqueue from `alloc_workqueue`, destroyed only by the drop.
struct OwnedQueue(NonNull<bindings::workqueue_struct>);

impl OwnedQueue {
    fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: the format takes one string argument, `name`, which is NUL-terminated.
        let wq = unsafe {
            bindings::alloc_workqueue(
                c_str!("%s").as_char_ptr(),
                bindings::wq_flags_WQ_UNBOUND,
                1,
                name.as_char_ptr(),
            )
        };
        // INVARIANT: allocated above.
        NonNull::new(wq).map(Self).ok_or(ENOMEM)
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: by the type invariant; this waits for queued and running work to finish.
        unsafe { bindings::destroy_workqueue(self.0.as_ptr()) };
    }
}

/// What the probe, the `irq_work` and the work item share.
///
/// # Invariants
///
/// `kick` and `work` are initialised, with [`Shared::kick_fn`] and [`Shared::work_fn`], before
/// the probe is registered.
struct Shared<T: ReaddirHandler> {
    // Dropped first: waits for the work item, which uses the fields below.
    wq: OwnedQueue,
    ring: Ring,
    handler: T,
    dropped: AtomicU64,
    kick: Opaque<bindings::irq_work>,
    work: Opaque<bindings::work_struct>,
}

// SAFETY: `T` is `Send + Sync`; the ring is `Sync`; `kick` and `work` are only used through the
// C functions meant for concurrent use.
unsafe impl<T: ReaddirHandler> Sync for Shared<T> {}

// SAFETY: as above; the workqueue may be destroyed from any thread.
unsafe impl<T: ReaddirHandler> Send for Shared<T> {}

impl<T: ReaddirHandler> Shared<T> {
    /// Probe context: turn a wanted read into an event and kick the worker.
    fn hit(&self, file: &File) {
        if !self.handler.want(file) {
            return;
        }
        let queued = self.ring.push_with(|| {
            ActiveInode::new(file.inode()).map(|dir| ReaddirEvent {
                dir,
                pos: file.pos(),
            })
        });
        if queued {
            // SAFETY: `kick` is initialised (type invariant); `irq_work_queue` may be called from
            // any context, and does nothing if the work is pending already.
            unsafe { bindings::irq_work_queue(self.kick.get()) };
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hard interrupt context: queue the work item.
    unsafe extern "C" fn kick_fn(kick: *mut bindings::irq_work) {
        // SAFETY: only registered for the `kick` field of a `Shared<T>`, which outlives it
        // (`ReaddirWatch::drop` syncs the `irq_work` first).
        let this =
            unsafe { &*container_of!(kick.cast::<Opaque<bindings::irq_work>>(), Self, kick) };
        // SAFETY: the queue and the initialised `work` are alive; `queue_work_on` may be called
        // from hard interrupts, and does nothing if the work is pending already.
        unsafe {
            bindings::queue_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as _,
                this.wq.0.as_ptr(),
                this.work.get(),
            )
        };
    }

    /// Process context: hand every queued event to the handler.
    unsafe extern "C" fn work_fn(work: *mut bindings::work_struct) {
        // SAFETY: only registered for the `work` field of a `Shared<T>`, which outlives it
        // (its workqueue is destroyed, and thus drained, before the other fields are dropped).
        let this =
            unsafe { &*container_of!(work.cast::<Opaque<bindings::work_struct>>(), Self, work) };
        while let Some(event) = this.ring.pop() {
            if let Some(event) = event {
                this.handler.handle(event);
            }
        }
    }
}

/// The kprobe's handler: a pointer to the watch's shared part.
///
/// # Invariants
///
/// Points to the `Shared<T>` of the [`ReaddirWatch`] that owns the probe, which outlives it.
struct Hook<T: ReaddirHandler>(NonNull<Shared<T>>);

// SAFETY: `Shared<T>` is `Sync`, and `Hook` only gives shared access to it.
unsafe impl<T: ReaddirHandler> Send for Hook<T> {}

// SAFETY: as above.
unsafe impl<T: ReaddirHandler> Sync for Hook<T> {}

impl<T: ReaddirHandler> KprobeHandler for Hook<T> {
    fn pre(&self, regs: &Regs) {
        // SAFETY: by the type invariant, the shared part outlives the probe.
        let shared = unsafe { self.0.as_ref() };
        // SAFETY: the probe is on the entry of `iterate_dir(struct file *file, struct
        // dir_context *ctx)`, whose caller holds a reference to `file` for the whole call.
        let file = unsafe { File::from_raw(regs.arg(0) as *const bindings::file) };
        shared.hit(file);
    }
}

/// A watch on directory reads, active while this object exists.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, file::File, readdir_watch::{ReaddirEvent, ReaddirHandler, ReaddirWatch}};
///
/// struct Nothing;
///
/// impl ReaddirHandler for Nothing {
///     fn want(&self, _file: &File) -> bool {
///         false
///     }
///     fn handle(&self, _event: ReaddirEvent) {}
/// }
///
/// let watch = ReaddirWatch::new(c_str!("readdir_doctest"), Nothing)?;
/// assert_eq!(watch.dropped(), 0);
/// # Ok::<(), Error>(())
/// ```
pub struct ReaddirWatch<T: ReaddirHandler> {
    // Dropped by hand first.
    probe: Option<Pin<KBox<Kprobe<Hook<T>>>>>,
    shared: Pin<KBox<Shared<T>>>,
}

impl<T: ReaddirHandler> ReaddirWatch<T> {
    /// Starts watching directory reads with `handler`; `name` names the watch's workqueue.
    pub fn new(name: &'static CStr, handler: T) -> Result<Self> {
        let shared = KBox::pin(
            Shared {
                wq: OwnedQueue::new(name)?,
                ring: Ring::new(),
                handler,
                dropped: AtomicU64::new(0),
                kick: Opaque::uninit(),
                work: Opaque::uninit(),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `kick` and `work` are pinned in the box and not in use yet; the lock class
        // key is static.
        unsafe {
            bindings::init_irq_work(shared.kick.get(), Some(Shared::<T>::kick_fn));
            bindings::init_work_with_key(
                shared.work.get(),
                Some(Shared::<T>::work_fn),
                false,
                c_str!("readdir_watch").as_char_ptr(),
                crate::static_lock_class!().as_ptr(),
            );
        }
        // INVARIANT: `shared` is boxed and dropped only after the probe.
        let hook = Hook(NonNull::from(&*shared));
        let probe = KBox::pin_init(Kprobe::new(c_str!("iterate_dir"), hook), GFP_KERNEL)?;
        Ok(Self {
            probe: Some(probe),
            shared,
        })
    }

    /// The handler.
    pub fn handler(&self) -> &T {
        &self.shared.handler
    }

    /// How many wanted reads were dropped because events were coming faster than handled.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl<T: ReaddirHandler> Drop for ReaddirWatch<T> {
    fn drop(&mut self) {
        // No probe runs after this...
        self.probe = None;
        // SAFETY: `kick` is initialised; this waits until a pending kick has run.
        unsafe { bindings::irq_work_sync(self.shared.kick.get()) };
        // ...and dropping `shared` next destroys the workqueue, which handles the queued events.
    }
}
