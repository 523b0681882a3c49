// SPDX-License-Identifier: GPL-2.0

//! Guest memory accesses rkvm makes on the guest's behalf, by linear address: fetching an
//! instruction to decode it, and the memory side of string port I/O.

use crate::{
    decode::{self, Insn, MAX_LEN},
    registers::{Registers, Seg},
    vm::Vm,
    walker::{self, AccessKind, Walk},
};
use kernel::{page::PAGE_SIZE, prelude::*};

/// Where a linear address leads.
pub(crate) enum Target {
    /// This guest physical address.
    Gpa(u64),
    /// A page fault the guest must take, with this error code.
    Fault(u32),
    /// Nowhere rkvm can reach.
    Unreachable,
}

/// Translates linear address `la` for an access of kind `kind`.
pub(crate) fn translate(vm: &Vm, regs: &Registers, la: u64, kind: AccessKind) -> Result<Target> {
    if !regs.paging() {
        return Ok(Target::Gpa(la & 0xffff_ffff));
    }
    Ok(match walker::walk(vm, regs, la, kind)? {
        Walk::Ok(t) => Target::Gpa(t.gpa),
        Walk::Fault(e) => Target::Fault(e),
        Walk::NoMemory => Target::Unreachable,
    })
}

/// Reads as many of `buf.len()` bytes at linear address `la` as can be read (stopping at the
/// first page that cannot); returns how many.
fn read_prefix(
    vm: &Vm,
    regs: &Registers,
    la: u64,
    buf: &mut [u8],
    kind: AccessKind,
) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let addr = la.wrapping_add(done as u64);
        let chunk = (PAGE_SIZE - (addr as usize & (PAGE_SIZE - 1))).min(buf.len() - done);
        let Target::Gpa(gpa) = translate(vm, regs, addr, kind)? else {
            break;
        };
        if vm.read_guest(gpa, &mut buf[done..done + chunk]).is_err() {
            break;
        }
        done += chunk;
    }
    Ok(done)
}

/// Reads `buf.len()` bytes at linear address `la`; `false` if some of them cannot be read.
pub(crate) fn read(
    vm: &Vm,
    regs: &Registers,
    la: u64,
    buf: &mut [u8],
    kind: AccessKind,
) -> Result<bool> {
    Ok(read_prefix(vm, regs, la, buf, kind)? == buf.len())
}

/// Writes `buf` at linear address `la`; `false` if some of it cannot be written.
pub(crate) fn write(
    vm: &Vm,
    regs: &Registers,
    la: u64,
    buf: &[u8],
    kind: AccessKind,
) -> Result<bool> {
    let mut done = 0;
    while done < buf.len() {
        let addr = la.wrapping_add(done as u64);
        let chunk = (PAGE_SIZE - (addr as usize & (PAGE_SIZE - 1))).min(buf.len() - done);
        let Target::Gpa(gpa) = translate(vm, regs, addr, kind)? else {
            return Ok(false);
        };
        if vm.write_guest(gpa, &buf[done..done + chunk]).is_err() {
            return Ok(false);
        }
        done += chunk;
    }
    Ok(true)
}

/// Fetches and decodes the instruction at `CS:RIP`; `None` if it cannot be read or is not
/// one rkvm emulates.
pub(crate) fn fetch(vm: &Vm, regs: &Registers) -> Result<Option<Insn>> {
    let la = regs
        .segment_base(Seg::Cs)
        .wrapping_add(regs.vmcb.save().rip);
    let kind = AccessKind {
        fetch: true,
        user: regs.cpl() == 3,
        write: false,
    };
    let mut bytes = [0u8; MAX_LEN];
    let n = read_prefix(vm, regs, la, &mut bytes, kind)?;
    Ok(decode::decode(&bytes[..n], regs.code_size()))
}
