// SPDX-License-Identifier: GPL-2.0

//! rkvm: KVM's ioctl interface, implemented in Rust.
//!
//! User space opens the device ([`device`]), creates a virtual machine from it ([`vm`]), gives
//! the VM guest memory as slots of its own address space ([`memslot`]), and creates vCPUs in it
//! ([`vcpu`]). Each object is a file descriptor, as with KVM, and the numbers, structures and
//! error codes are KVM's; [`user`] copies the structures in and out.

use kernel::prelude::*;

mod device;
mod memslot;
mod user;
mod vcpu;
mod vm;

module! {
    type: Rkvm,
    name: "rkvm",
    author: "Ferrite developers",
    description: "KVM-compatible virtual machines in Rust",
    license: "GPL",
}

struct Rkvm {
    _device: Pin<KBox<device::Registration>>,
}

impl kernel::Module for Rkvm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self {
            _device: device::register()?,
        })
    }
}
