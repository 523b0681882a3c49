// SPDX-License-Identifier: GPL-2.0

//! The KVM user-space ABI: ioctl numbers, capabilities and structures.
//!
//! KVM's clients (QEMU, kvmtool, Firecracker, selftests) speak this ABI through `/dev/kvm` and the
//! file descriptors it hands out. This module names its pieces for a Rust driver that implements
//! the same ABI, and marks the structures a driver copies from and to user space as safe to do
//! so ([`FromBytes`], [`AsBytes`]).
//!
//! C header: [`include/uapi/linux/kvm.h`](srctree/include/uapi/linux/kvm.h)
//!
//! # Examples
//!
//! ```
//! use kernel::{ioctl::_IOC_SIZE, kvm};
//!
//! assert_eq!(kvm::API_VERSION, 12);
//! assert_eq!(kvm::ioctl::GET_API_VERSION, 0xae00);
//! assert_eq!(_IOC_SIZE(kvm::ioctl::GET_REGS), core::mem::size_of::<kvm::Regs>());
//! assert_eq!(core::mem::size_of::<kvm::Sregs>(), 312);
//! ```

use crate::types::{AsBytes, FromBytes};

/// The general-purpose registers of a vCPU (`struct kvm_regs`).
pub type Regs = uapi::kvm_regs;
/// A segment register with its hidden part (`struct kvm_segment`).
pub type Segment = uapi::kvm_segment;
/// A descriptor-table register, GDTR or IDTR (`struct kvm_dtable`).
pub type Dtable = uapi::kvm_dtable;
/// The system registers of a vCPU (`struct kvm_sregs`).
pub type Sregs = uapi::kvm_sregs;
/// A guest memory slot as user space describes it (`struct kvm_userspace_memory_region`).
pub type UserspaceMemoryRegion = uapi::kvm_userspace_memory_region;
/// The page shared with user space that reports why `KVM_RUN` returned (`struct kvm_run`).
pub type Run = uapi::kvm_run;
/// One CPUID leaf (`struct kvm_cpuid_entry2`), as `KVM_SET_CPUID2` passes them.
pub type CpuidEntry2 = uapi::kvm_cpuid_entry2;

/// The most CPUID leaves `KVM_SET_CPUID2` takes.
pub const MAX_CPUID_ENTRIES: u32 = 256;
/// `CpuidEntry2::flags`: the leaf has sub-leaves, told apart by `index`.
pub const CPUID_FLAG_SIGNIFICANT_INDEX: u32 = uapi::KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

/// The only API version there is; `KVM_GET_API_VERSION` returns it.
pub const API_VERSION: i32 = uapi::KVM_API_VERSION as i32;

/// ioctl numbers, by the file descriptor they apply to.
pub mod ioctl {
    use super::*;
    use crate::ioctl::{_IO, _IOR, _IOW};

    const KVMIO: u32 = uapi::KVMIO;

    /// `/dev/kvm`: the API version, [`API_VERSION`].
    pub const GET_API_VERSION: u32 = _IO(KVMIO, 0x00);
    /// `/dev/kvm`: a new VM; returns its file descriptor.
    pub const CREATE_VM: u32 = _IO(KVMIO, 0x01);
    /// `/dev/kvm` and VM: whether (or how much of) a capability is available.
    pub const CHECK_EXTENSION: u32 = _IO(KVMIO, 0x03);
    /// `/dev/kvm`: the size of the vCPU file's mapping, [`Run`] first.
    pub const GET_VCPU_MMAP_SIZE: u32 = _IO(KVMIO, 0x04);
    /// VM: a new vCPU; returns its file descriptor.
    pub const CREATE_VCPU: u32 = _IO(KVMIO, 0x41);
    /// VM: create, move, change or delete a memory slot.
    pub const SET_USER_MEMORY_REGION: u32 = _IOW::<UserspaceMemoryRegion>(KVMIO, 0x46);
    /// VM: where the three pages Intel's real-mode emulation needs live (x86).
    pub const SET_TSS_ADDR: u32 = _IO(KVMIO, 0x47);
    /// vCPU: run until an exit that user space must handle.
    pub const RUN: u32 = _IO(KVMIO, 0x80);
    /// vCPU: read the general-purpose registers.
    pub const GET_REGS: u32 = _IOR::<Regs>(KVMIO, 0x81);
    /// vCPU: write the general-purpose registers.
    pub const SET_REGS: u32 = _IOW::<Regs>(KVMIO, 0x82);
    /// vCPU: read the system registers.
    pub const GET_SREGS: u32 = _IOR::<Sregs>(KVMIO, 0x83);
    /// vCPU: write the system registers.
    pub const SET_SREGS: u32 = _IOW::<Sregs>(KVMIO, 0x84);
    /// vCPU: set what `CPUID` returns (a `struct kvm_cpuid2` header, then its entries).
    pub const SET_CPUID2: u32 = _IOW::<uapi::kvm_cpuid2>(KVMIO, 0x90);
}

/// Capabilities, the argument of [`ioctl::CHECK_EXTENSION`].
pub mod cap {
    /// `KVM_SET_USER_MEMORY_REGION` works.
    pub const USER_MEMORY: u32 = uapi::KVM_CAP_USER_MEMORY;
    /// `KVM_SET_TSS_ADDR` works.
    pub const SET_TSS_ADDR: u32 = uapi::KVM_CAP_SET_TSS_ADDR;
    /// The recommended number of vCPUs per VM.
    pub const NR_VCPUS: u32 = uapi::KVM_CAP_NR_VCPUS;
    /// The number of memory slots per VM.
    pub const NR_MEMSLOTS: u32 = uapi::KVM_CAP_NR_MEMSLOTS;
    /// The maximum number of vCPUs per VM.
    pub const MAX_VCPUS: u32 = uapi::KVM_CAP_MAX_VCPUS;
    /// One more than the largest vCPU id.
    pub const MAX_VCPU_ID: u32 = uapi::KVM_CAP_MAX_VCPU_ID;
}

/// Why `KVM_RUN` returned (`kvm_run.exit_reason`).
pub mod exit {
    /// Unknown.
    pub const UNKNOWN: u32 = uapi::KVM_EXIT_UNKNOWN;
    /// Port I/O to complete in user space.
    pub const IO: u32 = uapi::KVM_EXIT_IO;
    /// The guest halted.
    pub const HLT: u32 = uapi::KVM_EXIT_HLT;
    /// Memory-mapped I/O to complete in user space.
    pub const MMIO: u32 = uapi::KVM_EXIT_MMIO;
    /// The guest triple-faulted.
    pub const SHUTDOWN: u32 = uapi::KVM_EXIT_SHUTDOWN;
    /// The hardware refused to enter the guest.
    pub const FAIL_ENTRY: u32 = uapi::KVM_EXIT_FAIL_ENTRY;
    /// A signal interrupted the run.
    pub const INTR: u32 = uapi::KVM_EXIT_INTR;
    /// The kernel could not handle an exit.
    pub const INTERNAL_ERROR: u32 = uapi::KVM_EXIT_INTERNAL_ERROR;
}

// SAFETY: `kvm_cpuid_entry2` is ten `u32`s (its padding spelled out as fields): any bytes are
// valid and none is uninitialised.
unsafe impl FromBytes for CpuidEntry2 {}
// SAFETY: as above.
unsafe impl AsBytes for CpuidEntry2 {}

// SAFETY: `kvm_regs` is 18 `u64`s: any bytes are valid and it has no padding.
unsafe impl FromBytes for Regs {}
// SAFETY: as above.
unsafe impl AsBytes for Regs {}

// SAFETY: `kvm_sregs` holds integers only, in fields laid out without implicit padding (the C
// structures spell their padding out as fields): any bytes are valid and all are initialised.
unsafe impl FromBytes for Sregs {}
// SAFETY: as above.
unsafe impl AsBytes for Sregs {}

// SAFETY: two `u32`s then three `u64`s: any bytes are valid and there is no padding.
unsafe impl FromBytes for UserspaceMemoryRegion {}

/// The layout of [`Run`], the `struct kvm_run` page shared with user space, for drivers that
/// fill it in: field offsets, and the exit payloads at [`run::EXIT_DATA`].
pub mod run {
    use super::Run;
    use crate::types::{AsBytes, FromBytes};
    use core::mem::offset_of;

    /// `immediate_exit`: user space asks `KVM_RUN` to return at once.
    pub const IMMEDIATE_EXIT: usize = offset_of!(Run, immediate_exit__unsafe);
    /// `exit_reason`: one of [`super::exit`].
    pub const EXIT_REASON: usize = offset_of!(Run, exit_reason);
    /// `ready_for_interrupt_injection`: user space may inject an interrupt now.
    pub const READY_FOR_INTERRUPT_INJECTION: usize = offset_of!(Run, ready_for_interrupt_injection);
    /// `if_flag`: the guest's `RFLAGS.IF`.
    pub const IF_FLAG: usize = offset_of!(Run, if_flag);
    /// `flags`: `KVM_RUN_X86_*`.
    pub const FLAGS: usize = offset_of!(Run, flags);
    /// `cr8`.
    pub const CR8: usize = offset_of!(Run, cr8);
    /// `apic_base`.
    pub const APIC_BASE: usize = offset_of!(Run, apic_base);
    /// The union of exit payloads.
    pub const EXIT_DATA: usize = offset_of!(Run, __bindgen_anon_1);

    /// `io.direction` of an `IN`.
    pub const IO_IN: u8 = uapi::KVM_EXIT_IO_IN as u8;
    /// `io.direction` of an `OUT`.
    pub const IO_OUT: u8 = uapi::KVM_EXIT_IO_OUT as u8;

    /// The payload of [`super::exit::IO`]: `count` accesses of `size` bytes to `port`, whose
    /// data is at `data_offset` in the vCPU mapping.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    #[allow(missing_docs)]
    pub struct Io {
        pub direction: u8,
        pub size: u8,
        pub port: u16,
        pub count: u32,
        pub data_offset: u64,
    }

    /// The payload of [`super::exit::MMIO`]: an access of `len` bytes at guest physical
    /// address `phys_addr`, with its data.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    #[allow(missing_docs)]
    pub struct Mmio {
        pub phys_addr: u64,
        pub data: [u8; 8],
        pub len: u32,
        pub is_write: u8,
        pub padding: [u8; 3],
    }

    /// The payload of [`super::exit::FAIL_ENTRY`].
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    #[allow(missing_docs)]
    pub struct FailEntry {
        pub hardware_entry_failure_reason: u64,
        pub cpu: u32,
        pub padding: u32,
    }

    /// The payload of [`super::exit::INTERNAL_ERROR`].
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    #[allow(missing_docs)]
    pub struct InternalError {
        pub suberror: u32,
        pub ndata: u32,
        pub data: [u64; 16],
    }

    /// `suberror`: the instruction could not be emulated.
    pub const INTERNAL_ERROR_EMULATION: u32 = uapi::KVM_INTERNAL_ERROR_EMULATION;
    /// `suberror`: an exit the kernel does not handle.
    pub const INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: u32 =
        uapi::KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON;

    // SAFETY: integers only, padding spelled out as fields: any bytes are valid, none is
    // uninitialised.
    unsafe impl FromBytes for Io {}
    // SAFETY: as above.
    unsafe impl AsBytes for Io {}
    // SAFETY: as above.
    unsafe impl FromBytes for Mmio {}
    // SAFETY: as above.
    unsafe impl AsBytes for Mmio {}
    // SAFETY: as above.
    unsafe impl FromBytes for FailEntry {}
    // SAFETY: as above.
    unsafe impl AsBytes for FailEntry {}
    // SAFETY: as above.
    unsafe impl FromBytes for InternalError {}
    // SAFETY: as above.
    unsafe impl AsBytes for InternalError {}
}
