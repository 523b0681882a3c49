// SPDX-License-Identifier: GPL-2.0

//! The device, `/dev/rkvm` (or `/dev/kvm`): what its open files answer, and where VMs come from.

use crate::{host::Host, vm::Vm};
use kernel::{
    bindings, c_str,
    fs::FileOperations,
    kvm::{self, cap, ioctl},
    miscdevice::{Minor, MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc,
};

/// The registration of the device.
pub(crate) type Registration = MiscDeviceRegistration<DeviceFile>;

/// Registers `/dev/rkvm`, or with `compat` `/dev/kvm` on KVM's own minor (which fails with
/// `EBUSY` while KVM holds it), for VMs on `host`. Everyone may read and write it, as
/// `/dev/kvm` usually.
pub(crate) fn register(compat: bool, host: Arc<Host>) -> Result<Pin<KBox<Registration>>> {
    let (name, minor) = if compat {
        (c_str!("kvm"), Minor::Fixed(bindings::KVM_MINOR as u8))
    } else {
        (c_str!("rkvm"), Minor::Dynamic)
    };
    let options = MiscDeviceOptions {
        name,
        minor,
        mode: 0o666,
    };
    KBox::pin_init(Registration::register(options, host), GFP_KERNEL)
}

/// The size of a vCPU file's mapping: the `kvm_run` page, then the page for port I/O data.
pub(crate) const VCPU_MMAP_SIZE: usize = 2 * PAGE_SIZE;

/// Answers `KVM_CHECK_EXTENSION`, on the device and on VMs alike.
///
/// Truthful: a capability rkvm lacks is 0, even where KVM would have it.
pub(crate) fn check_extension(capability: usize) -> isize {
    match u32::try_from(capability) {
        Ok(cap::USER_MEMORY | cap::SET_TSS_ADDR) => 1,
        Ok(cap::NR_MEMSLOTS) => crate::memslot::MAX_SLOTS as isize,
        Ok(cap::NR_VCPUS | cap::MAX_VCPUS) => crate::vm::MAX_VCPUS as isize,
        Ok(cap::MAX_VCPU_ID) => crate::vm::MAX_VCPU_ID as isize,
        _ => 0,
    }
}

/// An open file of the device; VMs created through it run on its host.
pub(crate) struct DeviceFile {
    host: Arc<Host>,
}

impl MiscDevice for DeviceFile {
    type RegistrationData = Arc<Host>;

    fn open(device: &Registration) -> Result<KBox<Self>> {
        let host = device.data().clone();
        Ok(KBox::new(DeviceFile { host }, GFP_KERNEL)?)
    }
}

#[vtable]
impl FileOperations for DeviceFile {
    type Ptr = KBox<Self>;
    const OWNER: &'static ThisModule = &crate::THIS_MODULE;

    fn ioctl(file: &Self, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            ioctl::GET_API_VERSION if arg == 0 => Ok(kvm::API_VERSION as isize),
            ioctl::CREATE_VM => Vm::create(file.host.clone(), arg),
            ioctl::CHECK_EXTENSION => Ok(check_extension(arg)),
            ioctl::GET_VCPU_MMAP_SIZE if arg == 0 => Ok(VCPU_MMAP_SIZE as isize),
            // KVM answers every other command on its device, and a non-zero argument where
            // none is taken, with EINVAL.
            _ => Err(EINVAL),
        }
    }
}
