// SPDX-License-Identifier: GPL-2.0

//! Port I/O: every `IN`, `OUT`, `INS` and `OUTS` of the guest exits to user space, as KVM
//! reports them.
//!
//! A plain `IN` or `OUT` is one access (`count` 1), its data in the I/O page. String forms
//! go as KVM's emulator takes them: an `OUTS` one element per exit, an `INS` as many
//! elements per exit as fit in the destination's page, in 1024 bytes, and in `RCX` (for
//! `REP`); the registers then move on as the instruction would.

use crate::{
    linear::{self, Target},
    registers::{Registers, Seg},
    run::{Pending, UserExit, VcpuState, PF_VECTOR},
    stats::Stat,
    vm::Vm,
    walker::AccessKind,
};
use kernel::{kvm::run, mm::SharedPage, page::PAGE_SIZE, prelude::*};

/// `EXITINFO1` of an I/O intercept.
const TYPE_IN: u64 = 1 << 0;
const STRING: u64 = 1 << 2;
const REP: u64 = 1 << 3;
const SIZE_SHIFT: u32 = 4;
const ADDR_SHIFT: u32 = 7;
const SEG_SHIFT: u32 = 10;

/// The direction flag.
const RFLAGS_DF: u64 = 1 << 10;

/// Where the data of a port I/O exit is, in the vCPU mapping: the page after `kvm_run`.
const DATA_OFFSET: u64 = PAGE_SIZE as u64;

/// The most data one string `INS` exit moves, as KVM's emulator's read-ahead buffer.
const INS_BATCH: usize = 1024;

/// Handles an I/O intercept with `EXITINFO1` `info` and next `RIP` `next_rip`.
pub(crate) fn exit(
    vcpu: &mut VcpuState,
    info: u64,
    next_rip: u64,
    vm: &Vm,
    pio: &SharedPage,
) -> Result<Option<UserExit>> {
    let port = (info >> 16) as u16;
    let size = match (info >> SIZE_SHIFT) & 7 {
        1 => 1u8,
        2 => 2,
        _ => 4,
    };
    let is_in = info & TYPE_IN != 0;
    vcpu.stats.inc(Stat::IoExits);
    if info & STRING != 0 {
        return string(vcpu, info, port, size, next_rip, vm, pio);
    }
    let regs = &mut vcpu.regs;
    if is_in {
        vcpu.pending = Some(Pending::PortIn { size });
    } else {
        let data = regs.gpr(0).to_le_bytes();
        pio.write_bytes(0, &data[..usize::from(size)])?;
    }
    regs.vmcb.save_mut().rip = next_rip;
    Ok(Some(UserExit::Io(io(is_in, size, port, 1))))
}

fn io(is_in: bool, size: u8, port: u16, count: u32) -> run::Io {
    run::Io {
        direction: if is_in { run::IO_IN } else { run::IO_OUT },
        size,
        port,
        count,
        data_offset: DATA_OFFSET,
    }
}

/// An `INS` or `OUTS`, `REP` or not.
fn string(
    vcpu: &mut VcpuState,
    info: u64,
    port: u16,
    size: u8,
    next_rip: u64,
    vm: &Vm,
    pio: &SharedPage,
) -> Result<Option<UserExit>> {
    let is_in = info & TYPE_IN != 0;
    let rep = info & REP != 0;
    let addr_mask = match (info >> ADDR_SHIFT) & 7 {
        1 => 0xffff,
        2 => 0xffff_ffff,
        _ => u64::MAX,
    };
    let regs = &mut vcpu.regs;
    let count = if rep { regs.gpr(1) & addr_mask } else { 1 };
    if count == 0 {
        regs.vmcb.save_mut().rip = next_rip;
        return Ok(None);
    }
    // INS writes ES:rDI; OUTS reads seg:rSI, the segment possibly overridden.
    let (index_reg, seg) = if is_in {
        (7, Seg::Es)
    } else {
        (6, segment((info >> SEG_SHIFT) & 7))
    };
    let backwards = regs.vmcb.save().rflags & RFLAGS_DF != 0;
    let offset = regs.gpr(index_reg) & addr_mask;
    // As KVM's emulator counts it: bytes left in the page, taken as a number of elements.
    let in_page = if backwards {
        offset as usize & (PAGE_SIZE - 1)
    } else {
        PAGE_SIZE - (offset as usize & (PAGE_SIZE - 1))
    };
    let n = if is_in {
        in_page
            .min(INS_BATCH / usize::from(size))
            .min(count as usize)
            .max(1)
    } else {
        1
    };
    let bytes = n * usize::from(size);
    // Backwards, the elements go down from rDI.
    let first = if backwards {
        offset.wrapping_sub(((n - 1) * usize::from(size)) as u64) & addr_mask
    } else {
        offset
    };
    let la = regs.segment_base(seg).wrapping_add(first);
    let kind = AccessKind {
        write: is_in,
        user: regs.cpl() == 3,
        fetch: false,
    };
    // Check the whole range first: a fault is the guest's, before any I/O happens.
    for addr in [la, la.wrapping_add(bytes as u64 - 1)] {
        match linear::translate(vm, regs, addr, kind)? {
            Target::Gpa(_) => {}
            Target::Fault(error) => {
                regs.vmcb.save_mut().cr2 = addr;
                regs.inject_exception(PF_VECTOR, Some(error));
                vcpu.stats.inc(Stat::PfGuest);
                return Ok(None);
            }
            Target::Unreachable => return Ok(Some(crate::mmio::emulation_error())),
        }
    }
    if is_in {
        vcpu.pending = Some(Pending::StringIn(StringIn {
            la,
            kind,
            bytes,
            n: n as u64,
            size,
            addr_mask,
            backwards,
            rep,
            next_rip,
        }));
    } else {
        let mut data = [0u8; 4];
        let data = &mut data[..usize::from(size)];
        if !linear::read(vm, regs, la, data, kind)? {
            return Ok(Some(crate::mmio::emulation_error()));
        }
        pio.write_bytes(0, data)?;
        advance(
            regs, index_reg, addr_mask, size, 1, backwards, rep, next_rip,
        );
    }
    Ok(Some(UserExit::Io(io(is_in, size, port, n as u32))))
}

/// An `INS` waiting for its data from user space.
pub(crate) struct StringIn {
    la: u64,
    kind: AccessKind,
    bytes: usize,
    n: u64,
    size: u8,
    addr_mask: u64,
    backwards: bool,
    rep: bool,
    next_rip: u64,
}

impl StringIn {
    /// Stores the data user space left in the I/O page and moves the registers on.
    pub(crate) fn complete(&self, vm: &Vm, regs: &mut Registers, pio: &SharedPage) -> Result {
        let mut data = [0u8; INS_BATCH];
        let data = &mut data[..self.bytes];
        pio.read_bytes(0, data)?;
        if self.backwards {
            // Element i of the I/O page goes to rDI - i * size.
            let size = usize::from(self.size);
            let mut reversed = [0u8; INS_BATCH];
            let n = self.bytes / size;
            for i in 0..n {
                for j in 0..size {
                    reversed[(n - 1 - i) * size + j] = data[i * size + j];
                }
            }
            linear::write(vm, regs, self.la, &reversed[..self.bytes], self.kind)?;
        } else {
            linear::write(vm, regs, self.la, data, self.kind)?;
        }
        advance(
            regs,
            7,
            self.addr_mask,
            self.size,
            self.n,
            self.backwards,
            self.rep,
            self.next_rip,
        );
        Ok(())
    }
}

/// Moves the index register past `n` elements, counts them off `rCX` for `REP`, and moves
/// past the instruction once it is done.
#[allow(clippy::too_many_arguments)]
fn advance(
    regs: &mut Registers,
    index_reg: u8,
    addr_mask: u64,
    size: u8,
    n: u64,
    backwards: bool,
    rep: bool,
    next_rip: u64,
) {
    let step = n * u64::from(size);
    let index = regs.gpr(index_reg);
    let moved = if backwards {
        index.wrapping_sub(step)
    } else {
        index.wrapping_add(step)
    };
    regs.set_gpr(index_reg, (index & !addr_mask) | (moved & addr_mask));
    let done = if rep {
        let rcx = regs.gpr(1);
        let left = (rcx & addr_mask).wrapping_sub(n) & addr_mask;
        regs.set_gpr(1, (rcx & !addr_mask) | left);
        left == 0
    } else {
        true
    };
    if done {
        regs.vmcb.save_mut().rip = next_rip;
    }
}

fn segment(n: u64) -> Seg {
    match n {
        0 => Seg::Es,
        1 => Seg::Cs,
        2 => Seg::Ss,
        4 => Seg::Fs,
        5 => Seg::Gs,
        _ => Seg::Ds,
    }
}
