// SPDX-License-Identifier: GPL-2.0

//! Decoding the few guest instructions rkvm emulates.
//!
//! Without next-RIP and decode assists (QEMU emulates neither), an intercepted `MOV` to or from
//! a control or debug register, `CLTS`, `LMSW`, `INVLPG`, or a memory access that faults on
//! an MMIO address tells rkvm nothing but that it happened: the instruction has to be read
//! from guest memory and decoded, with the guest's code size, to know its operands and
//! length.

use crate::registers::{CodeSize, Seg};

/// The longest x86 instruction.
pub(crate) const MAX_LEN: usize = 15;

/// A decoded instruction.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Insn {
    /// Length in bytes.
    pub(crate) len: u8,
    /// Operand size in bytes (2, 4 or 8) for instructions that are not byte-sized.
    pub(crate) op_size: u8,
    /// Address size in bytes.
    pub(crate) addr_size: u8,
    /// The REX prefix, or 0.
    pub(crate) rex: u8,
    /// A `LOCK` prefix: with `MOV CR0` it selects `CR8`.
    pub(crate) lock: bool,
    /// A segment override.
    pub(crate) seg: Option<Seg>,
    /// The opcode: one byte, or `0x0f00 | byte` for two-byte opcodes.
    pub(crate) opcode: u16,
    /// ModRM fields, extended by REX: `mod`, `reg` and `rm` (`rm` is a register only when
    /// `mod` is 3).
    pub(crate) modrm_mod: u8,
    pub(crate) reg: u8,
    pub(crate) rm: u8,
    /// The immediate, sign-extended to 64 bits, or the `moffs` address of `MOV` 0xa0..0xa3.
    pub(crate) imm: u64,
}

impl Insn {
    /// Whether `reg` 4 to 7 of a byte-sized operand names `AH`, `CH`, `DH` and `BH` (no REX
    /// prefix) rather than `SPL` to `DIL`.
    pub(crate) fn high_byte(&self, reg: u8) -> bool {
        self.rex == 0 && (4..8).contains(&reg)
    }
}

/// Reads instruction bytes one at a time.
struct Bytes<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        (self.pos <= MAX_LEN).then_some(b)
    }

    fn imm(&mut self, size: u8) -> Option<u64> {
        if size == 0 {
            return Some(0);
        }
        let mut value = 0u64;
        for i in 0..size {
            value |= u64::from(self.next()?) << (8 * i);
        }
        let shift = 64 - 8 * u32::from(size);
        Some(((value << shift) as i64 >> shift) as u64)
    }
}

/// Which operands an opcode has.
enum Form {
    None,
    ModRm,
    ModRmImm8,
    ModRmImmZ,
    Moffs,
}

fn form(opcode: u16) -> Option<Form> {
    Some(match opcode {
        0x88..=0x8b => Form::ModRm,
        0xc6 => Form::ModRmImm8,
        0xc7 => Form::ModRmImmZ,
        0xa0..=0xa3 => Form::Moffs,
        0xf4 => Form::None,
        0x0f06 | 0x0f08 | 0x0f09 | 0x0f30 | 0x0f32 | 0x0fa2 => Form::None,
        0x0f01 | 0x0f20..=0x0f23 | 0x0fb6 | 0x0fb7 | 0x0fbe | 0x0fbf => Form::ModRm,
        _ => return None,
    })
}

/// Decodes the instruction at the start of `bytes`, executed with code size `size`; `None`
/// if it is not one rkvm emulates or is cut short.
pub(crate) fn decode(bytes: &[u8], size: CodeSize) -> Option<Insn> {
    let mut b = Bytes { bytes, pos: 0 };
    let (mut op_size, mut addr_size) = match size {
        CodeSize::Bits16 => (2, 2),
        CodeSize::Bits32 => (4, 4),
        CodeSize::Bits64 => (4, 8),
    };
    let mut insn = Insn::default();
    let mut byte = b.next()?;
    loop {
        match byte {
            0x66 => op_size = if op_size == 2 { 4 } else { 2 },
            0x67 => addr_size = if addr_size == 4 { 2 } else { 4 },
            0xf0 => insn.lock = true,
            0xf2 | 0xf3 => {}
            0x26 => insn.seg = Some(Seg::Es),
            0x2e => insn.seg = Some(Seg::Cs),
            0x36 => insn.seg = Some(Seg::Ss),
            0x3e => insn.seg = Some(Seg::Ds),
            0x64 => insn.seg = Some(Seg::Fs),
            0x65 => insn.seg = Some(Seg::Gs),
            _ => break,
        }
        byte = b.next()?;
    }
    if size == CodeSize::Bits64 {
        if addr_size == 2 {
            // 0x67 in 64-bit mode selects 32-bit addresses.
            addr_size = 4;
        }
        if byte & 0xf0 == 0x40 {
            insn.rex = byte;
            byte = b.next()?;
            if insn.rex & 8 != 0 {
                op_size = 8;
            }
        }
    }
    insn.opcode = if byte == 0x0f {
        0x0f00 | u16::from(b.next()?)
    } else {
        u16::from(byte)
    };
    insn.op_size = op_size;
    insn.addr_size = addr_size;
    match form(insn.opcode)? {
        Form::None => {}
        Form::Moffs => insn.imm = b.imm(addr_size)?,
        Form::ModRm => modrm(&mut b, &mut insn)?,
        Form::ModRmImm8 => {
            modrm(&mut b, &mut insn)?;
            insn.imm = b.imm(1)?;
        }
        Form::ModRmImmZ => {
            modrm(&mut b, &mut insn)?;
            insn.imm = b.imm(op_size.min(4))?;
        }
    }
    insn.len = b.pos as u8;
    Some(insn)
}

/// Decodes a ModRM byte and whatever SIB byte and displacement follow it.
fn modrm(b: &mut Bytes<'_>, insn: &mut Insn) -> Option<()> {
    let modrm = b.next()?;
    let (md, reg, rm) = (modrm >> 6, (modrm >> 3) & 7, modrm & 7);
    insn.modrm_mod = md;
    insn.reg = reg | ((insn.rex & 4) << 1);
    insn.rm = rm | ((insn.rex & 1) << 3);
    // Moves to and from control and debug registers always name a register.
    if md == 3 || (0x0f20..=0x0f23).contains(&insn.opcode) {
        insn.modrm_mod = 3;
        return Some(());
    }
    let disp = if insn.addr_size == 2 {
        match (md, rm) {
            (0, 6) | (2, _) => 2,
            (1, _) => 1,
            _ => 0,
        }
    } else {
        let base = if rm == 4 { b.next()? & 7 } else { rm };
        match (md, rm, base) {
            (0, 5, _) | (0, 4, 5) | (2, _, _) => 4,
            (1, _, _) => 1,
            _ => 0,
        }
    };
    b.imm(disp)?;
    Some(())
}
