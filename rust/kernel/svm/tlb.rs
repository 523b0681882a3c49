// SPDX-License-Identifier: GPL-2.0

//! The guest TLB: which address space identifier (ASID) a guest runs with, and when its
//! translations must be flushed.
//!
//! The processor tags every TLB entry with the ASID it was made under, and keeps entries
//! across `VMRUN` and `#VMEXIT`. A guest's entries are therefore stale once its page tables
//! lost or changed a mapping, or once it runs on other page tables: left in place, they would
//! let the guest reach pages the host has since unpinned and reused. One rule decides what
//! `VMRUN` must do, [`GuestTlb::prepare`], and [`super::Svm::run`] applies it at every entry:
//!
//! - ASIDs are handed out per CPU, in generations: a vCPU keeps its ASID only while it stays on
//!   the CPU and in the generation it got it from. A vCPU that runs somewhere else gets a new
//!   ASID there, and a new one again when it comes back, since what it left in the first CPU's
//!   TLB may be stale by then (its tables changed elsewhere, and that flush was made on the
//!   other CPU). An ASID is given out once per generation, so a new one holds nothing.
//! - When a CPU's ASIDs run out, a new generation starts there with one flush of every ASID
//!   (`TLB_CONTROL_FLUSH_ALL_ASID`), so ASIDs can be given out again. Enabling SVM on a CPU
//!   starts a new generation too: another hypervisor may have used any ASID before.
//! - A vCPU whose page tables changed since its last entry (a mapping removed or replaced, or
//!   a different root), or that asked for it ([`GuestTlb::request_flush`], at every guest `CR3`
//!   write), flushes its own entries: with `TLB_CONTROL_FLUSH_ASID` where the CPU has
//!   FlushByAsid, or by moving to a new ASID where it does not.
//! - Other vCPUs and VMs run with other ASIDs, so nothing they do flushes this vCPU's entries,
//!   and nothing this vCPU does flushes theirs.
//!
//! What each path costs: keeping the ASID costs nothing and keeps every translation.
//! `TLB_CONTROL_FLUSH_ASID` drops this guest's entries only. A new ASID costs nothing at the
//! entry, but uses up one of the CPU's ASIDs (the processor has `CPUID 0x8000000a`'s `EBX`
//! of them, ASID 0 being the host's), and every time they run out, one entry flushes the
//! whole TLB, every guest's entries and the host's. Without FlushByAsid (older processors,
//! and QEMU's emulation) that last is the only flush there is.
//!
//! # Examples
//!
//! A vCPU on one CPU keeps its ASID, and flushes it when its tables changed:
//!
//! ```
//! use kernel::svm::{Asids, GuestTlb, RootStamp, TlbControl};
//!
//! let cpu = Asids::new(15, true);
//! let mut vcpu = GuestTlb::new();
//! let root = RootStamp::new(1, 0);
//! // The first entry on the CPU starts its first generation: everything is flushed.
//! let first = vcpu.prepare(&cpu, root);
//! assert_eq!(first.control, TlbControl::FlushAll);
//! // Nothing changed: same ASID, nothing flushed.
//! let again = vcpu.prepare(&cpu, root);
//! assert_eq!((again.asid, again.control), (first.asid, TlbControl::Nothing));
//! // A mapping of the root was removed (its change count moved): flush this ASID only.
//! let zapped = vcpu.prepare(&cpu, RootStamp::new(1, 1));
//! assert_eq!((zapped.asid, zapped.control), (first.asid, TlbControl::FlushAsid));
//! // A switch to another root, even one that is cached and lost nothing, flushes too.
//! let switched = vcpu.prepare(&cpu, RootStamp::new(2, 0));
//! assert_eq!(switched.control, TlbControl::FlushAsid);
//! // So does a guest CR3 write that keeps the root.
//! vcpu.request_flush();
//! assert_eq!(vcpu.prepare(&cpu, RootStamp::new(2, 0)).control, TlbControl::FlushAsid);
//! assert_eq!(vcpu.prepare(&cpu, RootStamp::new(2, 0)).control, TlbControl::Nothing);
//! ```
//!
//! A vCPU that moves to another CPU and back gets a new ASID each time, even when the flush
//! its tables needed was made on the other CPU:
//!
//! ```
//! use kernel::svm::{Asids, GuestTlb, RootStamp, TlbControl};
//!
//! let (a, b) = (Asids::new(15, true), Asids::new(15, true));
//! let mut vcpu = GuestTlb::new();
//! let on_a = vcpu.prepare(&a, RootStamp::new(1, 0));
//! // On B, after a mapping was removed: a new ASID there needs no flush of its own.
//! let on_b = vcpu.prepare(&b, RootStamp::new(1, 1));
//! assert!(on_b.new_asid);
//! // Back on A: what A's TLB holds under the old ASID predates the removal.
//! let back = vcpu.prepare(&a, RootStamp::new(1, 1));
//! assert!(back.new_asid);
//! assert_ne!(back.asid, on_a.asid);
//! assert_eq!(back.control, TlbControl::Nothing);
//! ```
//!
//! Another VM on the same CPU runs with its own ASID and flushes nothing of the first:
//!
//! ```
//! use kernel::svm::{Asids, GuestTlb, RootStamp, TlbControl};
//!
//! let cpu = Asids::new(15, true);
//! let (mut one, mut other) = (GuestTlb::new(), GuestTlb::new());
//! let first = one.prepare(&cpu, RootStamp::new(1, 0));
//! let second = other.prepare(&cpu, RootStamp::new(2, 0));
//! assert_ne!(first.asid, second.asid);
//! assert_eq!(second.control, TlbControl::Nothing);
//! // The second VM's changes leave the first one's ASID and entries alone.
//! other.request_flush();
//! assert_eq!(other.prepare(&cpu, RootStamp::new(2, 0)).control, TlbControl::FlushAsid);
//! let again = one.prepare(&cpu, RootStamp::new(1, 0));
//! assert_eq!((again.asid, again.control), (first.asid, TlbControl::Nothing));
//! ```
//!
//! Without FlushByAsid a flush takes a new ASID, and running out of ASIDs flushes everything
//! and moves every vCPU to the new generation:
//!
//! ```
//! use kernel::svm::{Asids, GuestTlb, RootStamp, TlbControl};
//!
//! let cpu = Asids::new(2, false);
//! let (mut one, mut other) = (GuestTlb::new(), GuestTlb::new());
//! let root = RootStamp::new(1, 0);
//! assert_eq!(one.prepare(&cpu, root).control, TlbControl::FlushAll);
//! let flushed = { one.request_flush(); one.prepare(&cpu, root) };
//! assert!(flushed.new_asid);
//! assert_eq!((flushed.asid, flushed.control), (2, TlbControl::Nothing));
//! // ASIDs 1 and 2 are used up: the next one starts a generation.
//! let wrapped = other.prepare(&cpu, RootStamp::new(2, 0));
//! assert_eq!((wrapped.asid, wrapped.control), (1, TlbControl::FlushAll));
//! // The first vCPU's ASID 2 is from the old generation: it gets a new one.
//! let moved = one.prepare(&cpu, root);
//! assert_eq!((moved.asid, moved.new_asid), (2, true));
//! ```

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The source of generations: each is given to one CPU's [`Asids`] once, so that a vCPU's
/// generation also names the CPU it got its ASID from. Zero is never given.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn new_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// What `VMRUN` does to the TLB before it enters the guest (the VMCB's `TLB_CONTROL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlbControl {
    /// Keep every entry.
    Nothing,
    /// Flush the entries of the guest's ASID (needs FlushByAsid).
    FlushAsid,
    /// Flush every entry of every ASID.
    FlushAll,
}

/// One CPU's ASIDs: the generation it is in, and the next ASID it gives out.
///
/// The fields are atomics only so that the per-CPU array can be shared: each CPU's `Asids`
/// is used by that CPU alone, with interrupts disabled.
pub struct Asids {
    generation: AtomicU64,
    next: AtomicU32,
    max: u32,
    flush_by_asid: bool,
}

impl Asids {
    /// ASIDs 1 to `max` (at least 1), and whether the CPU can flush one ASID's entries
    /// alone. Its first ASID starts a generation, with a flush of everything.
    pub fn new(max: u32, flush_by_asid: bool) -> Self {
        // `next` may go one past `max`.
        let max = max.clamp(1, u32::MAX - 1);
        Self {
            generation: AtomicU64::new(new_generation()),
            next: AtomicU32::new(max + 1),
            max,
            flush_by_asid,
        }
    }

    /// Forgets every ASID given out: the next one starts a generation, with a flush of
    /// everything. For a CPU where SVM was (re-)enabled.
    pub(super) fn reset(&self) {
        self.generation.store(new_generation(), Ordering::Relaxed);
        self.next.store(self.max + 1, Ordering::Relaxed);
    }

    /// A new ASID and its generation, and whether the generation is new (so that every
    /// ASID's entries must be flushed first).
    fn allocate(&self) -> (u32, u64, bool) {
        let next = self.next.load(Ordering::Relaxed);
        if next <= self.max {
            self.next.store(next + 1, Ordering::Relaxed);
            return (next, self.generation.load(Ordering::Relaxed), false);
        }
        let generation = new_generation();
        self.generation.store(generation, Ordering::Relaxed);
        self.next.store(2, Ordering::Relaxed);
        (1, generation, true)
    }
}

/// The state of a [`super::Root`] that its guest's TLB entries were made from: which root,
/// and how many times a mapping of it was removed or replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootStamp {
    id: u64,
    changes: u64,
}

impl RootStamp {
    /// The stamp of root `id` after `changes` removals (as [`super::Root`] counts them).
    pub fn new(id: u64, changes: u64) -> Self {
        Self { id, changes }
    }
}

/// What [`GuestTlb::prepare`] decided for one entry into the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbPlan {
    /// The ASID the guest runs with.
    pub asid: u32,
    /// Whether the ASID is new: nothing of the guest's is in the TLB under it.
    pub new_asid: bool,
    /// What `VMRUN` must flush first.
    pub control: TlbControl,
}

impl TlbPlan {
    /// Whether the guest starts with none of its earlier translations.
    pub fn flushed(&self) -> bool {
        self.new_asid || self.control != TlbControl::Nothing
    }
}

/// One vCPU's place in the TLB: its ASID, where it got it, and what its entries were made
/// from.
///
/// # Invariants
///
/// `generation` is zero (never ran) or one given to a single CPU's [`Asids`], which gave this
/// vCPU `asid` in it.
pub struct GuestTlb {
    generation: u64,
    asid: u32,
    root: Option<RootStamp>,
    flush: bool,
}

impl Default for GuestTlb {
    fn default() -> Self {
        Self::new()
    }
}

impl GuestTlb {
    /// A vCPU that never ran.
    pub fn new() -> Self {
        // INVARIANT: zero: never ran.
        Self {
            generation: 0,
            asid: 0,
            root: None,
            flush: false,
        }
    }

    /// Asks for the guest's translations to be flushed at the next entry, whatever its tables
    /// did: what a guest `CR3` write, `INVLPG` or paging mode change asks of the processor.
    pub fn request_flush(&mut self) {
        self.flush = true;
    }

    /// Decides how the guest enters on the CPU whose ASIDs are `cpu`, running on the root
    /// whose state is `root`, by the rules of `kernel::svm`'s TLB documentation.
    ///
    /// `cpu` must be the current CPU's, and the caller must stay on it until the entry (with
    /// interrupts disabled); [`super::Svm::run`] does so.
    pub fn prepare(&mut self, cpu: &Asids, root: RootStamp) -> TlbPlan {
        let stale = core::mem::take(&mut self.flush) || self.root != Some(root);
        self.root = Some(root);
        let mut entry = TlbPlan {
            asid: self.asid,
            new_asid: false,
            control: TlbControl::Nothing,
        };
        if self.generation != cpu.generation.load(Ordering::Relaxed) {
            self.take_asid(cpu, &mut entry);
        } else if stale && cpu.flush_by_asid {
            entry.control = TlbControl::FlushAsid;
        } else if stale {
            self.take_asid(cpu, &mut entry);
        }
        entry
    }

    fn take_asid(&mut self, cpu: &Asids, entry: &mut TlbPlan) {
        let (asid, generation, wrapped) = cpu.allocate();
        // INVARIANT: `cpu` gave `asid` in `generation`.
        self.asid = asid;
        self.generation = generation;
        entry.asid = asid;
        entry.new_asid = true;
        if wrapped {
            entry.control = TlbControl::FlushAll;
        }
    }
}
