// SPDX-License-Identifier: GPL-2.0

//! Per-VM event counters, named as KVM names its statistics, shown in debugfs as
//! `/sys/kernel/debug/rkvm/<pid>-<fd>/<name>`.

use kernel::{c_str, debugfs::Counters, prelude::*, str::CStr, sync::Arc};

/// The counters, in the order of [`NAMES`].
#[derive(Clone, Copy)]
pub(crate) enum Stat {
    /// Every `#VMEXIT`.
    Exits,
    /// Port I/O exits to user space.
    IoExits,
    /// MMIO exits to user space.
    MmioExits,
    /// `HLT` exits.
    HaltExits,
    /// Exits for a physical interrupt.
    IrqExits,
    /// Returns to user space because a signal was pending.
    SignalExits,
    /// Page faults intercepted.
    PfTaken,
    /// Page faults resolved by a new shadow mapping.
    PfFixed,
    /// Page faults reflected to the guest.
    PfGuest,
    /// Shadow page tables allocated.
    ShadowAllocated,
    /// Shadow page tables freed.
    ShadowZapped,
    /// Entries into the guest that flushed its TLB entries (its ASID's, all of them, or by
    /// taking a new ASID).
    TlbFlush,
    /// `INVLPG` exits.
    Invlpg,
    /// Guest writes to `CR3`.
    Cr3Writes,
}

/// The number of counters.
pub(crate) const COUNT: usize = 14;

/// The counters' names, as their debugfs files.
pub(crate) const NAMES: [&CStr; COUNT] = [
    c_str!("exits"),
    c_str!("io_exits"),
    c_str!("mmio_exits"),
    c_str!("halt_exits"),
    c_str!("irq_exits"),
    c_str!("signal_exits"),
    c_str!("pf_taken"),
    c_str!("pf_fixed"),
    c_str!("pf_guest"),
    c_str!("mmu_shadow_allocated"),
    c_str!("mmu_shadow_zapped"),
    c_str!("tlb_flush"),
    c_str!("invlpg"),
    c_str!("cr3_writes"),
];

/// A VM's counters, shared by its vCPUs.
#[derive(Clone)]
pub(crate) struct Stats(Arc<Counters<COUNT>>);

impl Stats {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(Counters::new()?))
    }

    /// Adds `n` to `stat`.
    pub(crate) fn add(&self, stat: Stat, n: u64) {
        self.0.add(stat as usize, n);
    }

    /// Adds one to `stat`.
    pub(crate) fn inc(&self, stat: Stat) {
        self.add(stat, 1);
    }

    /// The counters, for debugfs.
    pub(crate) fn counters(&self) -> Arc<Counters<COUNT>> {
        self.0.clone()
    }
}
