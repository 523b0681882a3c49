// SPDX-License-Identifier: GPL-2.0

//! The shadow MMU: the page tables the guest really runs on.
//!
//! The processor runs every guest paged, on tables rkvm builds ([`Root`]) that map guest
//! virtual addresses to the host pages backing the guest's memory slots. They start empty
//! and fill on demand: a guest access to an address they do not map takes a page fault,
//! which rkvm intercepts and resolves here.
//!
//! A guest without paging sees its physical memory at the same virtual addresses: each fault
//! maps the page of the slot that holds that guest physical address (a "direct" map). An
//! address that no slot holds is memory-mapped I/O, which user space emulates.
//!
//! This baseline keeps no shadow table across a change of the guest's paging state: every
//! write to `CR0`, `CR3`, `CR4` or `EFER` drops all mappings, as does a change of the memory
//! slots.

use crate::{
    stats::{Stat, Stats},
    vm::Vm,
};
use kernel::{
    mm::PinnedPage,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    svm::{Access, Format, Root},
    sync::Arc,
};

/// How a page fault was resolved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The page is mapped now: run the guest again.
    Mapped,
    /// No memory slot holds guest physical address `gpa`: an MMIO access.
    Mmio(u64),
}

/// The shadow page tables of one vCPU.
pub(crate) struct Mmu {
    root: Root,
    /// The generation of the VM's memory slots the mappings were made from.
    slots_generation: u64,
}

impl Mmu {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            root: Root::new(Format::Pae)?,
            slots_generation: 0,
        })
    }

    /// The root to run the guest on, in `format`; made anew (empty) if the format changed, or
    /// emptied if the memory slots changed since the mappings were made.
    pub(crate) fn root(&mut self, format: Format, vm: &Vm, stats: &Stats) -> Result<&mut Root> {
        let generation = vm.slots_generation();
        if self.root.format() != format {
            stats.add(Stat::ShadowZapped, self.root.tables() as u64);
            self.root = Root::new(format)?;
            stats.inc(Stat::ShadowAllocated);
        } else if self.slots_generation != generation {
            self.drop_all(stats);
        }
        self.slots_generation = generation;
        Ok(&mut self.root)
    }

    /// Drops every mapping (the root's stamp tells `Svm::run` to flush the guest's TLB).
    pub(crate) fn drop_all(&mut self, stats: &Stats) {
        stats.add(Stat::ShadowZapped, self.root.clear() as u64);
    }

    /// Maps guest physical page `gpa` at guest virtual address `gva` with `access`, or
    /// reports MMIO where no slot holds `gpa`. `EFAULT` where the VMM's memory is missing.
    pub(crate) fn map(
        &mut self,
        vm: &Vm,
        gva: u64,
        gpa: u64,
        access: Access,
        stats: &Stats,
    ) -> Result<Fault> {
        let Some(hva) = vm.hva(gpa >> PAGE_SHIFT) else {
            return Ok(Fault::Mmio(gpa));
        };
        let page = Arc::new(PinnedPage::pin_user(hva as usize)?, GFP_KERNEL_ACCOUNT)?;
        let page_va = gva & !(PAGE_SIZE as u64 - 1);
        let made = self.root.map(page_va, page, access)?;
        stats.add(Stat::ShadowAllocated, made as u64);
        stats.inc(Stat::PfFixed);
        Ok(Fault::Mapped)
    }

    /// Resolves a fault at `gva` of a guest that runs without paging: virtual addresses are
    /// physical ones, truncated to 32 bits.
    pub(crate) fn direct_fault(&mut self, vm: &Vm, gva: u64, stats: &Stats) -> Result<Fault> {
        let gpa = gva & 0xffff_ffff;
        self.map(vm, gpa, gpa, Access::ALL, stats)
    }
}
