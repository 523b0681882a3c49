// SPDX-License-Identifier: GPL-2.0

//! What `CPUID` tells the guest: the table user space sets with `KVM_SET_CPUID2`.
//!
//! As with KVM, a leaf missing from the table reads as zeros (an empty table, before any
//! `KVM_SET_CPUID2`, gives zeros everywhere), and the table also decides which `EFER` bits
//! the guest may set: long mode needs `LM`, no-execute needs `NX`.

use kernel::{kvm, prelude::*, uaccess::UserSlice};

/// `CPUID.80000001H:EDX` bits.
const EXT_EDX_NX: u32 = 1 << 20;
const EXT_EDX_GBPAGES: u32 = 1 << 26;
const EXT_EDX_LM: u32 = 1 << 29;

/// The guest's CPUID table.
#[derive(Default)]
pub(crate) struct Cpuid {
    entries: KVec<kvm::CpuidEntry2>,
}

impl Cpuid {
    /// Reads a `struct kvm_cpuid2` at user address `arg`: `E2BIG` beyond KVM's 256 leaves.
    pub(crate) fn from_user(arg: usize) -> Result<Self> {
        let header_size = 2 * size_of::<u32>();
        let mut header = UserSlice::new(arg, header_size).reader();
        let nent: u32 = header.read()?;
        if nent > kvm::MAX_CPUID_ENTRIES {
            return Err(E2BIG);
        }
        let len = nent as usize * size_of::<kvm::CpuidEntry2>();
        let mut reader = UserSlice::new(arg + header_size, len).reader();
        let mut entries = KVec::with_capacity(nent as usize, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..nent {
            entries.push(reader.read::<kvm::CpuidEntry2>()?, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(Self { entries })
    }

    /// Whether the two tables say the same.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        let key = |e: &kvm::CpuidEntry2| (e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx);
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(other.entries.iter())
                .all(|(a, b)| key(a) == key(b))
    }

    /// `EAX`, `EBX`, `ECX` and `EDX` of leaf `function`, sub-leaf `index`.
    pub(crate) fn leaf(&self, function: u32, index: u32) -> [u32; 4] {
        self.entries
            .iter()
            .find(|e| {
                e.function == function
                    && (e.flags & kvm::CPUID_FLAG_SIGNIFICANT_INDEX == 0 || e.index == index)
            })
            .map_or([0; 4], |e| [e.eax, e.ebx, e.ecx, e.edx])
    }

    fn ext_edx(&self) -> u32 {
        self.leaf(0x8000_0001, 0)[3]
    }

    /// Whether the guest has long mode.
    pub(crate) fn long_mode(&self) -> bool {
        self.ext_edx() & EXT_EDX_LM != 0
    }

    /// Whether the guest has 1 GiB pages.
    pub(crate) fn gbpages(&self) -> bool {
        self.ext_edx() & EXT_EDX_GBPAGES != 0
    }

    /// Whether the guest has no-execute pages.
    pub(crate) fn nx(&self) -> bool {
        self.ext_edx() & EXT_EDX_NX != 0
    }
}
