// SPDX-License-Identifier: GPL-2.0

//! Memory-mapped I/O: guest accesses to guest physical addresses that no memory slot holds,
//! emulated instruction by instruction and completed by user space.
//!
//! The moves KVM clients' devices see in practice are supported: `MOV` between a register
//! or an immediate and memory (0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7, 0xa0 to 0xa3) and
//! `MOVZX`/`MOVSX` loads. Anything else ends the run with an emulation error, as KVM's
//! does for what its emulator cannot handle.

use crate::{
    decode::Insn,
    linear,
    registers::Registers,
    run::{UserExit, VcpuState},
    stats::Stat,
    vm::Vm,
};
use kernel::{kvm::run, prelude::*};

/// An MMIO read to finish when user space has the data: where it goes.
pub(crate) struct Read {
    reg: u8,
    /// Bytes read.
    len: u8,
    /// Bytes written to the register.
    dest_size: u8,
    high_byte: bool,
    sign_extend: bool,
    insn_len: u8,
}

impl Read {
    /// Writes the data user space provided and moves past the instruction.
    pub(crate) fn complete(&self, regs: &mut Registers, data: [u8; 8]) {
        let mut value = u64::from_le_bytes(data);
        let bits = 8 * u32::from(self.len);
        if bits < 64 {
            value &= (1u64 << bits) - 1;
            if self.sign_extend {
                let shift = 64 - bits;
                value = ((value << shift) as i64 >> shift) as u64;
            }
        }
        regs.write_gpr_sized(self.reg, self.dest_size, value, self.high_byte);
        regs.skip(u64::from(self.insn_len));
    }
}

/// Emulates the instruction that faulted on guest physical address `gpa`, which no slot
/// holds: an MMIO exit, or an emulation error.
pub(crate) fn exit(vcpu: &mut VcpuState, vm: &Vm, gpa: u64) -> Result<Option<UserExit>> {
    let Some(insn) = linear::fetch(vm, &vcpu.regs)? else {
        return Ok(Some(emulation_error()));
    };
    let regs = &mut vcpu.regs;
    let access = match access(regs, &insn) {
        Some(access) => access,
        None => return Ok(Some(emulation_error())),
    };
    let mut mmio = run::Mmio {
        phys_addr: gpa,
        len: u32::from(access.len),
        ..Default::default()
    };
    match access.write {
        Some(value) => {
            mmio.is_write = 1;
            mmio.data = value.to_le_bytes();
            regs.skip(u64::from(insn.len));
        }
        None => vcpu.pending = Some(crate::run::Pending::MmioRead(access.read)),
    }
    vcpu.stats.inc(Stat::MmioExits);
    Ok(Some(UserExit::Mmio(mmio)))
}

/// The `KVM_EXIT_INTERNAL_ERROR` for an instruction rkvm cannot emulate.
pub(crate) fn emulation_error() -> UserExit {
    UserExit::InternalError {
        suberror: run::INTERNAL_ERROR_EMULATION,
        data: [0, 0],
    }
}

/// What a memory access does: a write of a value, or a read into a register.
struct MemAccess {
    len: u8,
    write: Option<u64>,
    read: Read,
}

fn access(regs: &Registers, insn: &Insn) -> Option<MemAccess> {
    let op = insn.op_size;
    let reg_value = |reg: u8, size: u8| -> u64 {
        let v = regs.gpr(if size == 1 && insn.high_byte(reg) {
            reg - 4
        } else {
            reg
        });
        if size == 1 && insn.high_byte(reg) {
            (v >> 8) & 0xff
        } else {
            v
        }
    };
    let read = |reg: u8, len: u8, dest_size: u8, sign_extend: bool| Read {
        reg,
        len,
        dest_size,
        high_byte: dest_size == 1 && insn.high_byte(reg),
        sign_extend,
        insn_len: insn.len,
    };
    let write = |len: u8, value: u64| MemAccess {
        len,
        write: Some(value),
        read: read(0, len, len, false),
    };
    let load = |reg: u8, len: u8, dest_size: u8, sign_extend: bool| MemAccess {
        len,
        write: None,
        read: Read {
            reg: if dest_size == 1 && insn.high_byte(reg) {
                reg - 4
            } else {
                reg
            },
            ..read(reg, len, dest_size, sign_extend)
        },
    };
    // Register-direct forms touch no memory: they cannot have faulted on MMIO.
    let memory = insn.modrm_mod != 3;
    Some(match insn.opcode {
        0x88 if memory => write(1, reg_value(insn.reg, 1)),
        0x89 if memory => write(op, reg_value(insn.reg, op)),
        0x8a if memory => load(insn.reg, 1, 1, false),
        0x8b if memory => load(insn.reg, op, op, false),
        0xc6 if memory => write(1, insn.imm),
        0xc7 if memory => write(op, insn.imm),
        0xa0 => load(0, 1, 1, false),
        0xa1 => load(0, op, op, false),
        0xa2 => write(1, regs.gpr(0)),
        0xa3 => write(op, regs.gpr(0)),
        0x0fb6 if memory => load(insn.reg, 1, op, false),
        0x0fb7 if memory => load(insn.reg, 2, op, false),
        0x0fbe if memory => load(insn.reg, 1, op, true),
        0x0fbf if memory => load(insn.reg, 2, op, true),
        _ => return None,
    })
}
