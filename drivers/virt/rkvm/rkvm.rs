// SPDX-License-Identifier: GPL-2.0

//! rkvm: KVM's ioctl interface, implemented in Rust.
//!
//! User space opens the device ([`device`]), creates a virtual machine from it ([`vm`]), gives
//! the VM guest memory as slots of its own address space ([`memslot`]), and creates vCPUs in it
//! ([`vcpu`]). Each object is a file descriptor, as with KVM, and the numbers, structures and
//! error codes are KVM's; [`user`] copies the structures in and out.

use kernel::prelude::*;

mod control;
mod cpuid;
mod decode;
mod device;
mod host;
mod io;
mod linear;
mod memslot;
mod mmio;
mod mmu;
mod msr;
mod registers;
mod run;
mod stats;
mod user;
mod vcpu;
mod vm;
mod walker;

module! {
    type: Rkvm,
    name: "rkvm",
    author: "Ferrite developers",
    description: "KVM-compatible virtual machines in Rust",
    license: "GPL",
}

kernel::module_param!(COMPAT: bool = false, module: "rkvm", name: "compat", perm: 0o444,
    "Register as /dev/kvm (misc minor 232) instead of /dev/rkvm, when KVM does not");

struct Rkvm {
    _device: Pin<KBox<device::Registration>>,
}

impl kernel::Module for Rkvm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let compat = COMPAT.get();
        let host = host::Host::new()?;
        let device = device::register(compat, host).inspect_err(|&e| {
            if compat && e == EBUSY {
                pr_err!("compat=1: KVM holds /dev/kvm; unload kvm_amd or kvm_intel first\n");
            }
        })?;
        Ok(Self { _device: device })
    }
}
