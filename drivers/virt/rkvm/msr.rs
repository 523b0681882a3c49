// SPDX-License-Identifier: GPL-2.0

//! `RDMSR`, `WRMSR` and `CPUID`, answered as KVM answers a vCPU whose user space set no
//! CPUID table.
//!
//! `CPUID` answers from the table of `KVM_SET_CPUID2` (see [`crate::cpuid`]). The MSRs are
//! those the VMCB holds (`EFER`, the system call and `SYSENTER` MSRs, `FS`/`GS` bases,
//! `KERNEL_GS_BASE`, `PAT`) plus `APIC_BASE` (read only); any other access raises `#GP`, as
//! KVM's does when it does not know the MSR. `EFER` writes may set what the CPUID table
//! allows, and not switch `LME` while paging.

use crate::{
    registers::{bits::*, efer_allowed, Registers},
    run::GP_VECTOR,
};

const MSR_EFER: u32 = 0xc000_0080;
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_CSTAR: u32 = 0xc000_0083;
const MSR_SYSCALL_MASK: u32 = 0xc000_0084;
const MSR_FS_BASE: u32 = 0xc000_0100;
const MSR_GS_BASE: u32 = 0xc000_0101;
const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
const MSR_SYSENTER_CS: u32 = 0x174;
const MSR_SYSENTER_ESP: u32 = 0x175;
const MSR_SYSENTER_EIP: u32 = 0x176;
const MSR_PAT: u32 = 0x277;
const MSR_APIC_BASE: u32 = 0x1b;

/// `CPUID` of the leaf in `EAX` and sub-leaf in `ECX`.
pub(crate) fn cpuid(regs: &mut Registers) {
    let leaf = regs.cpuid.leaf(regs.gpr(0) as u32, regs.gpr(1) as u32);
    // EAX, EBX, ECX, EDX in encoding order: 0, 3, 1, 2.
    for (reg, value) in [0, 3, 1, 2].into_iter().zip(leaf) {
        regs.write_gpr_sized(reg, 4, u64::from(value), false);
    }
    regs.skip(2);
}

/// `RDMSR` (or `WRMSR` if `write`) of the MSR in `ECX`. Returns whether the write changed
/// how the guest's page tables are read (`EFER.NXE` or `EFER.LME`): the caller drops the
/// translations made the old way.
pub(crate) fn exit(regs: &mut Registers, write: bool) -> bool {
    let efer = regs.efer;
    let msr = regs.gpr(1) as u32;
    let ok = if write {
        let value = (regs.gpr(2) << 32) | (regs.gpr(0) & 0xffff_ffff);
        write_msr(regs, msr, value)
    } else {
        match read_msr(regs, msr) {
            Some(value) => {
                regs.write_gpr_sized(0, 4, value & 0xffff_ffff, false);
                regs.write_gpr_sized(2, 4, value >> 32, false);
                true
            }
            None => false,
        }
    };
    if ok {
        regs.skip(2);
    } else {
        regs.inject_exception(GP_VECTOR, Some(0));
    }
    (efer ^ regs.efer) & (EFER_NX | EFER_LME) != 0
}

fn read_msr(regs: &Registers, msr: u32) -> Option<u64> {
    let save = regs.vmcb.save();
    Some(match msr {
        MSR_EFER => regs.efer,
        MSR_STAR => save.star,
        MSR_LSTAR => save.lstar,
        MSR_CSTAR => save.cstar,
        MSR_SYSCALL_MASK => save.sfmask,
        MSR_FS_BASE => save.fs.base,
        MSR_GS_BASE => save.gs.base,
        MSR_KERNEL_GS_BASE => save.kernel_gs_base,
        MSR_SYSENTER_CS => save.sysenter_cs,
        MSR_SYSENTER_ESP => save.sysenter_esp,
        MSR_SYSENTER_EIP => save.sysenter_eip,
        MSR_PAT => save.g_pat,
        MSR_APIC_BASE => regs.apic_base(),
        _ => return None,
    })
}

/// Whether `value` is a canonical 48-bit address.
fn canonical(value: u64) -> bool {
    ((value as i64) << 16 >> 16) as u64 == value
}

fn write_msr(regs: &mut Registers, msr: u32, value: u64) -> bool {
    let addresses = [
        MSR_LSTAR,
        MSR_CSTAR,
        MSR_FS_BASE,
        MSR_GS_BASE,
        MSR_KERNEL_GS_BASE,
        MSR_SYSENTER_ESP,
        MSR_SYSENTER_EIP,
    ];
    if addresses.contains(&msr) && !canonical(value) {
        return false;
    }
    if msr == MSR_EFER {
        // LMA is the processor's to change; LME cannot change while paging.
        let allowed = efer_allowed(&regs.cpuid);
        if value & !allowed != 0 || (regs.paging() && (value ^ regs.efer) & EFER_LME != 0) {
            return false;
        }
        regs.efer = (regs.efer & EFER_LMA) | (value & !EFER_LMA);
        regs.update_hardware_control();
        return true;
    }
    let save = regs.vmcb.save_mut();
    match msr {
        MSR_STAR => save.star = value,
        MSR_LSTAR => save.lstar = value,
        MSR_CSTAR => save.cstar = value,
        MSR_SYSCALL_MASK => save.sfmask = value & 0xffff_ffff,
        MSR_FS_BASE => save.fs.base = value,
        MSR_GS_BASE => save.gs.base = value,
        MSR_KERNEL_GS_BASE => save.kernel_gs_base = value,
        MSR_SYSENTER_CS => save.sysenter_cs = value & 0xffff,
        MSR_SYSENTER_ESP => save.sysenter_esp = value,
        MSR_SYSENTER_EIP => save.sysenter_eip = value,
        MSR_PAT => {
            // Each byte a memory type: 0, 1, 4, 5, 6 or 7.
            if (0..8).any(|i| matches!((value >> (8 * i)) & 0xff, 2 | 3 | 8..)) {
                return false;
            }
            save.g_pat = value;
        }
        _ => return false,
    }
    true
}
