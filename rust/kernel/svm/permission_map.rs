// SPDX-License-Identifier: GPL-2.0

//! The I/O and MSR permission maps: which port and MSR accesses make a guest exit.

use super::virt_phys;
use crate::{
    alloc::{flags::*, KVec},
    error::{code::*, Result},
};

/// The size of the I/O permission map: one bit per port, plus the bits an access at the last
/// ports reaches, in whole pages.
const IOPM_SIZE: usize = 3 * 4096;
/// The size of the MSR permission map: two bits per MSR of the three architectural ranges.
const MSRPM_SIZE: usize = 2 * 4096;

/// I/O and MSR permission maps that intercept every access, for any number of guests.
///
/// A guest given these cannot touch a host port or MSR: each access exits to the hypervisor,
/// which emulates it.
///
/// # Invariants
///
/// `iopm` and `msrpm` are physically contiguous, page aligned, at least `IOPM_SIZE` and
/// `MSRPM_SIZE` bytes long, and all ones; they never change.
pub struct PermissionMaps {
    iopm: KVec<u8>,
    msrpm: KVec<u8>,
}

impl PermissionMaps {
    /// Maps in which every bit is set: every access is intercepted.
    pub fn new() -> Result<Self> {
        Ok(Self {
            iopm: Self::all_ones(IOPM_SIZE)?,
            msrpm: Self::all_ones(MSRPM_SIZE)?,
        })
    }

    /// `size` bytes of `0xff`, physically contiguous and page aligned.
    fn all_ones(size: usize) -> Result<KVec<u8>> {
        // kmalloc memory is physically contiguous, and power-of-two sizes are naturally
        // aligned: round up to one.
        let mut map = KVec::with_capacity(size.next_power_of_two(), GFP_KERNEL)?;
        map.extend_with(size, 0xff, GFP_KERNEL)?;
        if !(map.as_ptr() as usize).is_multiple_of(4096) {
            return Err(ENOMEM);
        }
        Ok(map)
    }

    pub(super) fn iopm_phys(&self) -> u64 {
        virt_phys(self.iopm.as_ptr())
    }

    pub(super) fn msrpm_phys(&self) -> u64 {
        virt_phys(self.msrpm.as_ptr())
    }
}
