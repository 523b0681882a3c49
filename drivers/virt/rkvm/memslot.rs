// SPDX-License-Identifier: GPL-2.0

//! Memory slots: ranges of guest physical memory backed by ranges of the VMM's memory.

use kernel::{
    kvm,
    mm::is_user_range,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
};

/// Slots per VM, as `KVM_CAP_NR_MEMSLOTS` reports.
pub(crate) const MAX_SLOTS: usize = 32;

/// The largest slot, in pages: KVM's limit on x86.
const MAX_PAGES: u64 = (1 << 31) - 1;

/// One slot: `npages` guest pages from `base_gfn`, backed by the VMM's memory at
/// `userspace_addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemSlot {
    pub(crate) id: u16,
    pub(crate) base_gfn: u64,
    pub(crate) npages: u64,
    pub(crate) userspace_addr: u64,
}

impl MemSlot {
    fn end_gfn(&self) -> u64 {
        self.base_gfn + self.npages
    }

    fn overlaps(&self, base_gfn: u64, end_gfn: u64) -> bool {
        self.base_gfn < end_gfn && base_gfn < self.end_gfn()
    }
}

/// The slots of a VM, indexed by slot id.
///
/// # Invariants
///
/// `slots[i]`, when present, has id `i`, and no two slots share a guest frame.
pub(crate) struct MemSlots {
    slots: [Option<MemSlot>; MAX_SLOTS],
}

impl MemSlots {
    pub(crate) fn new() -> Self {
        // INVARIANT: there are no slots yet.
        Self {
            slots: [None; MAX_SLOTS],
        }
    }

    fn iter(&self) -> impl Iterator<Item = &MemSlot> {
        self.slots.iter().flatten()
    }

    /// The VMM address backing guest frame `gfn`, if a slot holds it.
    pub(crate) fn hva(&self, gfn: u64) -> Option<u64> {
        self.iter()
            .find(|s| s.overlaps(gfn, gfn + 1))
            .map(|s| s.userspace_addr + ((gfn - s.base_gfn) << PAGE_SHIFT))
    }

    /// Applies `KVM_SET_USER_MEMORY_REGION`: creates, moves or deletes (size 0) a slot, with
    /// KVM's checks, in KVM's order, and KVM's errors.
    pub(crate) fn set(&mut self, region: &kvm::UserspaceMemoryRegion) -> Result {
        // rkvm supports neither dirty logging nor read-only slots.
        if region.flags != 0 {
            return Err(EINVAL);
        }
        let as_id = region.slot >> 16;
        let id = region.slot as u16;
        let page_mask = PAGE_SIZE as u64 - 1;
        if region.memory_size & page_mask != 0 || region.guest_phys_addr & page_mask != 0 {
            return Err(EINVAL);
        }
        if region.userspace_addr & page_mask != 0
            || !is_user_range(region.userspace_addr as usize, region.memory_size as usize)
        {
            return Err(EINVAL);
        }
        if as_id != 0 || usize::from(id) >= MAX_SLOTS {
            return Err(EINVAL);
        }
        if region
            .guest_phys_addr
            .checked_add(region.memory_size)
            .is_none()
        {
            return Err(EINVAL);
        }
        let npages = region.memory_size >> PAGE_SHIFT;
        if npages > MAX_PAGES {
            return Err(EINVAL);
        }

        let old = self.slots[usize::from(id)];
        if npages == 0 {
            if old.is_none() {
                return Err(EINVAL);
            }
            // INVARIANT: removing a slot keeps the others apart.
            self.slots[usize::from(id)] = None;
            return Ok(());
        }

        let new = MemSlot {
            id,
            base_gfn: region.guest_phys_addr >> PAGE_SHIFT,
            npages,
            userspace_addr: region.userspace_addr,
        };
        if let Some(old) = old {
            // A slot may move in guest memory, but not change its backing or its size.
            if old.userspace_addr != new.userspace_addr || old.npages != new.npages {
                return Err(EINVAL);
            }
            if old.base_gfn == new.base_gfn {
                return Ok(());
            }
        }
        let overlap = self
            .iter()
            .any(|s| s.id != id && s.overlaps(new.base_gfn, new.end_gfn()));
        if overlap {
            return Err(EEXIST);
        }
        // INVARIANT: the new range overlaps no other slot, and it replaces its id's old slot.
        self.slots[usize::from(id)] = Some(new);
        Ok(())
    }
}
