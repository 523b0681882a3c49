// SPDX-License-Identifier: GPL-2.0

//! Control and debug register accesses, and `INVLPG`.
//!
//! The guest reads its own control registers (not the hardware's, which shadow paging
//! changes), and each write that changes how it pages drops the shadow mappings. `DR0` to
//! `DR3` are kept aside: the guest's breakpoints are not armed on the host.

use crate::{
    linear,
    mmio::emulation_error,
    registers::{bits::*, CodeSize},
    run::{UserExit, VcpuState, GP_VECTOR, UD_VECTOR},
    stats::Stat,
    vm::Vm,
};
use kernel::prelude::*;

const CR0_TS: u64 = 1 << 3;
const CR4_DE: u64 = 1 << 3;

/// A `MOV` to or from `CR0` to `CR15`, `CLTS` or `LMSW` (exit codes 0x00 to 0x1f).
pub(crate) fn cr_exit(vcpu: &mut VcpuState, vm: &Vm, _code: u32) -> Result<Option<UserExit>> {
    let Some(insn) = linear::fetch(vm, &vcpu.regs)? else {
        return Ok(Some(emulation_error()));
    };
    // Outside 64-bit code, control registers move as 32 bits.
    let size = vcpu.regs.native_size();
    // `LOCK MOV CR0` is AMD's encoding of `CR8`.
    let cr = if insn.lock && insn.reg == 0 {
        8
    } else {
        insn.reg
    };
    match insn.opcode {
        0x0f20 => {
            let value = match cr {
                0 => vcpu.regs.cr0,
                2 => vcpu.regs.vmcb.save().cr2,
                3 => vcpu.regs.cr3,
                4 => vcpu.regs.cr4,
                8 => 0,
                _ => {
                    vcpu.regs.inject_exception(UD_VECTOR, None);
                    return Ok(None);
                }
            };
            vcpu.regs.write_gpr_sized(insn.rm, size, value, false);
        }
        0x0f22 => {
            let mut value = vcpu.regs.gpr(insn.rm);
            if size == 4 {
                value &= 0xffff_ffff;
            }
            let ok = match cr {
                0 => set_cr0(vcpu, value),
                2 => {
                    vcpu.regs.vmcb.save_mut().cr2 = value;
                    true
                }
                3 => set_cr3(vcpu, value),
                4 => set_cr4(vcpu, value),
                8 => value >> 4 == 0,
                _ => {
                    vcpu.regs.inject_exception(UD_VECTOR, None);
                    return Ok(None);
                }
            };
            if !ok {
                vcpu.regs.inject_exception(GP_VECTOR, Some(0));
                return Ok(None);
            }
        }
        0x0f06 => {
            let cr0 = vcpu.regs.cr0 & !CR0_TS;
            set_cr0(vcpu, cr0);
        }
        // LMSW from a register: the low four bits of CR0, except that PE cannot be cleared.
        0x0f01 if insn.reg & 7 == 6 && insn.modrm_mod == 3 => {
            let value = vcpu.regs.gpr(insn.rm) & 0xf;
            let old = vcpu.regs.cr0;
            let cr0 = (old & !0xe) | value | (old & CR0_PE);
            set_cr0(vcpu, cr0);
        }
        _ => return Ok(Some(emulation_error())),
    }
    vcpu.regs.skip(u64::from(insn.len));
    Ok(None)
}

/// Writes the guest's `CR0`, with the processor's checks; `false` means `#GP`.
fn set_cr0(vcpu: &mut VcpuState, value: u64) -> bool {
    let regs = &mut vcpu.regs;
    let value = value | CR0_ET;
    if value >> 32 != 0
        || (value & CR0_NW != 0 && value & CR0_CD == 0)
        || (value & CR0_PG != 0 && value & CR0_PE == 0)
    {
        return false;
    }
    let was_paging = regs.paging();
    let paging = value & CR0_PG != 0;
    if !was_paging && paging && regs.efer & EFER_LME != 0 {
        // Entering long mode: PAE first, and from 32-bit code.
        if regs.cr4 & CR4_PAE == 0 {
            return false;
        }
        regs.efer |= EFER_LMA;
    } else if was_paging && !paging && regs.long_mode() {
        regs.efer &= !EFER_LMA;
    }
    let changed = regs.cr0 ^ value;
    regs.cr0 = value;
    regs.update_hardware_control();
    if changed & (CR0_PG | CR0_WP | CR0_PE) != 0 {
        vcpu.drop_translations();
    }
    true
}

fn set_cr3(vcpu: &mut VcpuState, value: u64) -> bool {
    if vcpu.regs.long_mode() && value >> 52 != 0 {
        return false;
    }
    vcpu.regs.cr3 = value;
    vcpu.stats.inc(Stat::Cr3Writes);
    // The baseline keeps nothing across address spaces; the flush of the guest's TLB is
    // what the architecture asks of every CR3 write, whatever the shadow tables keep.
    vcpu.drop_translations();
    true
}

fn set_cr4(vcpu: &mut VcpuState, value: u64) -> bool {
    let regs = &mut vcpu.regs;
    if value & !CR4_ALLOWED != 0 || (regs.long_mode() && value & CR4_PAE == 0) {
        return false;
    }
    regs.cr4 = value;
    regs.update_hardware_control();
    vcpu.drop_translations();
    true
}

/// A `MOV` to or from a debug register (exit codes 0x20 to 0x3f).
pub(crate) fn dr_exit(vcpu: &mut VcpuState, vm: &Vm) -> Result<Option<UserExit>> {
    let Some(insn) = linear::fetch(vm, &vcpu.regs)? else {
        return Ok(Some(emulation_error()));
    };
    if !matches!(insn.opcode, 0x0f21 | 0x0f23) {
        return Ok(Some(emulation_error()));
    }
    let regs = &mut vcpu.regs;
    let size = regs.native_size();
    // DR4 and DR5 alias DR6 and DR7 unless CR4.DE makes them invalid.
    let dr = match insn.reg {
        4 | 5 if regs.cr4 & CR4_DE != 0 => {
            regs.inject_exception(UD_VECTOR, None);
            return Ok(None);
        }
        4 | 5 => insn.reg + 2,
        r if r < 8 => r,
        _ => {
            regs.inject_exception(UD_VECTOR, None);
            return Ok(None);
        }
    };
    if insn.opcode == 0x0f21 {
        let value = match dr {
            0..=3 => regs.dr[usize::from(dr)],
            6 => regs.vmcb.save().dr6,
            _ => regs.vmcb.save().dr7,
        };
        regs.write_gpr_sized(insn.rm, size, value, false);
    } else {
        let value = regs.gpr(insn.rm);
        let value = if regs.code_size() == CodeSize::Bits64 {
            value
        } else {
            value & 0xffff_ffff
        };
        match dr {
            0..=3 => regs.dr[usize::from(dr)] = value,
            6 => regs.vmcb.save_mut().dr6 = (value & 0xffff_efff) | 0xffff_0ff0,
            _ => regs.vmcb.save_mut().dr7 = (value & 0xffff_ffff) | 0x400,
        }
    }
    regs.skip(u64::from(insn.len));
    Ok(None)
}

/// `INVLPG`: the baseline drops every shadow mapping and flushes the guest's TLB.
pub(crate) fn invlpg(vcpu: &mut VcpuState, vm: &Vm) -> Result<Option<UserExit>> {
    let Some(insn) = linear::fetch(vm, &vcpu.regs)? else {
        return Ok(Some(emulation_error()));
    };
    vcpu.stats.inc(Stat::Invlpg);
    vcpu.drop_translations();
    vcpu.regs.skip(u64::from(insn.len));
    Ok(None)
}
