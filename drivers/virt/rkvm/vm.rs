// SPDX-License-Identifier: GPL-2.0

//! A virtual machine: its memory slots and the ids of its vCPUs.

use crate::{device::check_extension, memslot::MemSlots, user, vcpu::Vcpu};
use kernel::{
    c_str,
    fs::{anon_inode, FileOperations},
    kvm::{self, ioctl},
    new_mutex,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
};

/// vCPUs per VM, as `KVM_CAP_MAX_VCPUS` reports.
pub(crate) const MAX_VCPUS: usize = 64;

/// One more than the largest vCPU id, as `KVM_CAP_MAX_VCPU_ID` reports.
pub(crate) const MAX_VCPU_ID: usize = 1024;

/// The highest TSS address `KVM_SET_TSS_ADDR` accepts: the TSS takes three pages below 4 GiB.
const MAX_TSS_ADDR: usize = 0xffff_d000;

/// A virtual machine.
#[pin_data]
pub(crate) struct Vm {
    #[pin]
    state: Mutex<VmState>,
}

struct VmState {
    slots: MemSlots,
    /// The vCPU ids taken so far, one bit each; like KVM, an id stays taken for the VM's life.
    vcpu_ids: [u64; MAX_VCPU_ID / 64],
    vcpus: usize,
}

impl Vm {
    /// Answers `KVM_CREATE_VM`: a new VM of type `vm_type`, as a new file descriptor.
    pub(crate) fn create(vm_type: usize) -> Result<isize> {
        // Only KVM's default x86 VM type.
        if vm_type != 0 {
            return Err(EINVAL);
        }
        let vm = Arc::pin_init(
            pin_init!(Vm {
                state <- new_mutex!(VmState {
                    slots: MemSlots::new(),
                    vcpu_ids: [0; MAX_VCPU_ID / 64],
                    vcpus: 0,
                }),
            }),
            GFP_KERNEL,
        )?;
        Ok(anon_inode::new_fd::<Vm>(c_str!("kvm-vm"), vm)? as isize)
    }

    /// Takes vCPU id `id` (below [`MAX_VCPU_ID`]) for a new vCPU, with KVM's errors.
    pub(crate) fn reserve_vcpu_id(&self, id: usize) -> Result {
        let mut state = self.state.lock();
        if state.vcpus >= MAX_VCPUS {
            return Err(EINVAL);
        }
        let (word, bit) = (id / 64, 1u64 << (id % 64));
        if state.vcpu_ids[word] & bit != 0 {
            return Err(EEXIST);
        }
        state.vcpu_ids[word] |= bit;
        state.vcpus += 1;
        Ok(())
    }

    /// Gives back an id taken by [`Vm::reserve_vcpu_id`] for a vCPU that could not be created.
    pub(crate) fn release_vcpu_id(&self, id: usize) {
        let mut state = self.state.lock();
        state.vcpu_ids[id / 64] &= !(1u64 << (id % 64));
        state.vcpus -= 1;
    }

    fn set_user_memory_region(&self, region: kvm::UserspaceMemoryRegion) -> Result<isize> {
        self.state.lock().slots.set(&region)?;
        Ok(0)
    }
}

#[vtable]
impl FileOperations for Vm {
    type Ptr = Arc<Vm>;
    const OWNER: &'static ThisModule = &crate::THIS_MODULE;

    fn ioctl(vm: ArcBorrow<'_, Vm>, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            ioctl::CHECK_EXTENSION => Ok(check_extension(arg)),
            ioctl::SET_USER_MEMORY_REGION => vm.set_user_memory_region(user::read(arg)?),
            // SVM needs no TSS for real mode; accept any address KVM accepts.
            ioctl::SET_TSS_ADDR if arg <= MAX_TSS_ADDR => Ok(0),
            ioctl::SET_TSS_ADDR => Err(EINVAL),
            ioctl::CREATE_VCPU => Vcpu::create(vm.into(), arg),
            // KVM answers unknown VM commands with ENOTTY.
            _ => Err(ENOTTY),
        }
    }
}
