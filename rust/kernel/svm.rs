// SPDX-License-Identifier: GPL-2.0

//! AMD Secure Virtual Machine (SVM, AMD-V): running guest code under hardware virtualization.
//!
//! A hypervisor describes a guest in a virtual machine control block ([`Vmcb`]): the guest's
//! registers, and which of its actions (instructions, exceptions, port and MSR accesses) make
//! the processor leave the guest with a `#VMEXIT`. [`Svm::run`] enters the guest on the
//! current CPU and returns at the next `#VMEXIT`, with the exit's code and information in the
//! control block.
//!
//! SVM must be enabled on a CPU (`EFER.SVME`, and a host save area in `MSR_VM_HSAVE_PA`)
//! before it can run a guest there; [`Svm`] does that on every CPU for as long as it lives, and
//! only one user may own SVM at a time, so that two hypervisors (for example KVM and a Rust
//! one) do not share per-CPU state without knowing it.
//!
//! C header: [`arch/x86/include/asm/svm.h`](srctree/arch/x86/include/asm/svm.h)

use crate::{bindings, page::Page};

mod enable;
mod page_table;
mod permission_map;
mod run;
mod tlb;
mod vmcb;

pub use enable::{supported, Svm};
pub use page_table::{Access, Format, Root};
pub use permission_map::PermissionMaps;
pub use run::{GuestFpu, GuestRegs};
pub use tlb::{Asids, GuestTlb, RootStamp, TlbControl, TlbPlan};
pub use vmcb::{exit, intercept, Segment, Vmcb};

/// The kernel address of `page`, which is never in high memory on x86-64.
fn page_address(page: &Page) -> *mut core::ffi::c_void {
    // SAFETY: `page` is a valid page.
    unsafe { bindings::page_address(page.as_ptr()) }
}

/// The physical address of `page`.
fn page_phys(page: &Page) -> u64 {
    // SAFETY: `page` is a valid page.
    unsafe { bindings::page_to_phys(page.as_ptr()) }
}

/// The physical address of `ptr`, which must point into the kernel's direct mapping (as
/// kmalloc memory does).
fn virt_phys<T>(ptr: *const T) -> u64 {
    // SAFETY: `virt_to_phys` only computes an address.
    unsafe { bindings::virt_to_phys(ptr as *mut core::ffi::c_void) }
}
