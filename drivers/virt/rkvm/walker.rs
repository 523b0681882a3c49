// SPDX-License-Identifier: GPL-2.0

//! Walking the guest's own page tables, in guest memory, as the processor would.
//!
//! Four formats: 32-bit paging (with 4 MiB pages when `CR4.PSE` is set), PAE (2 MiB pages),
//! and 4-level long mode paging (2 MiB and 1 GiB pages). A walk finds the guest physical
//! address behind a guest virtual one and the access the guest allows there, or the page
//! fault error code the processor would report; a successful walk sets the accessed bits (and
//! the dirty bit for a write) in the guest's entries, as the processor does.

use crate::{
    registers::{bits::*, Registers},
    vm::Vm,
};
use kernel::{prelude::*, svm::Access};

const PTE_P: u64 = 1 << 0;
const PTE_W: u64 = 1 << 1;
const PTE_U: u64 = 1 << 2;
const PTE_A: u64 = 1 << 5;
const PTE_D: u64 = 1 << 6;
const PTE_PS: u64 = 1 << 7;
const PTE_NX: u64 = 1 << 63;

/// Page fault error code bits.
pub(crate) mod error {
    pub(crate) const PRESENT: u32 = 1 << 0;
    pub(crate) const WRITE: u32 = 1 << 1;
    pub(crate) const USER: u32 = 1 << 2;
    pub(crate) const RSVD: u32 = 1 << 3;
    pub(crate) const FETCH: u32 = 1 << 4;
}

/// The frame address bits of a 64-bit entry (up to 52 physical address bits).
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// What an access is.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AccessKind {
    pub(crate) write: bool,
    pub(crate) user: bool,
    pub(crate) fetch: bool,
}

impl AccessKind {
    /// The kind of the access that caused a page fault with `error_code`.
    pub(crate) fn from_error(error_code: u64) -> Self {
        let e = error_code as u32;
        Self {
            write: e & error::WRITE != 0,
            user: e & error::USER != 0,
            fetch: e & error::FETCH != 0,
        }
    }

    fn error_code(self, nxe: bool) -> u32 {
        let mut e = 0;
        if self.write {
            e |= error::WRITE;
        }
        if self.user {
            e |= error::USER;
        }
        if self.fetch && nxe {
            e |= error::FETCH;
        }
        e
    }
}

/// A successful walk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Translation {
    /// The guest physical address of the byte.
    pub(crate) gpa: u64,
    /// What the guest's tables allow on the page, all levels combined.
    pub(crate) access: Access,
    /// Whether the leaf entry is dirty (after this walk).
    pub(crate) dirty: bool,
}

/// How a walk ended.
pub(crate) enum Walk {
    Ok(Translation),
    /// A page fault for the guest, with this error code.
    Fault(u32),
    /// A guest page table lies outside the memory slots.
    NoMemory,
}

/// The paging format of the guest's tables.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Bits32,
    Pae,
    LongMode,
}

/// One level's entry, and where it lives.
#[derive(Clone, Copy, Default)]
struct Entry {
    gpa: u64,
    value: u64,
    wide: bool,
}

/// Translates `gva` for an access of kind `kind` through the guest's page tables (the guest
/// must have paging on).
pub(crate) fn walk(vm: &Vm, regs: &Registers, gva: u64, kind: AccessKind) -> Result<Walk> {
    let nxe = regs.efer & EFER_NX != 0;
    let format = if regs.long_mode() {
        Format::LongMode
    } else if regs.cr4 & CR4_PAE != 0 {
        Format::Pae
    } else {
        Format::Bits32
    };
    let (levels, mut table): (u64, u64) = match format {
        Format::Bits32 => (2, regs.cr3 & 0xffff_f000),
        Format::Pae => (3, regs.cr3 & 0xffff_ffe0),
        Format::LongMode => (4, regs.cr3 & ADDR_MASK),
    };
    let gva = if format == Format::LongMode {
        gva
    } else {
        gva & 0xffff_ffff
    };
    let mut write = true;
    let mut user = true;
    let mut nx = false;
    // The entries walked, root first: at most four levels.
    let mut entries = [Entry::default(); 4];
    let fault = |present: bool, rsvd: bool| {
        let mut e = kind.error_code(nxe);
        if present {
            e |= error::PRESENT;
        }
        if rsvd {
            e |= error::RSVD | error::PRESENT;
        }
        Ok(Walk::Fault(e))
    };
    for (walked, level) in (1..=levels).rev().enumerate() {
        let (index, wide) = match format {
            Format::Bits32 => ((gva >> (12 + 10 * (level - 1))) & 1023, false),
            Format::Pae if level == 3 => ((gva >> 30) & 3, true),
            _ => ((gva >> (12 + 9 * (level - 1))) & 511, true),
        };
        let size = if wide { 8 } else { 4 };
        let gpa = table + index * size;
        let mut bytes = [0u8; 8];
        if vm.read_guest(gpa, &mut bytes[..size as usize]).is_err() {
            return Ok(Walk::NoMemory);
        }
        let value = u64::from_le_bytes(bytes);
        if value & PTE_P == 0 {
            return fault(false, false);
        }
        // The NX bit is reserved unless EFER.NXE is set.
        if wide && !nxe && value & PTE_NX != 0 {
            return fault(true, true);
        }
        let pae_root = format == Format::Pae && level == 3;
        if !pae_root {
            write &= value & PTE_W != 0;
            user &= value & PTE_U != 0;
            nx |= wide && value & PTE_NX != 0;
        }
        entries[walked] = Entry { gpa, value, wide };
        let large = !pae_root
            && value & PTE_PS != 0
            && match format {
                Format::Bits32 => level == 2 && regs.cr4 & CR4_PSE != 0,
                Format::Pae => level == 2,
                Format::LongMode => level == 2 || level == 3,
            };
        // 1 GiB pages only where CPUID has them; PS is reserved in the top level.
        let reserved_ps = value & PTE_PS != 0
            && format == Format::LongMode
            && (level == 4 || (level == 3 && !regs.cpuid.gbpages()));
        if reserved_ps {
            return fault(true, true);
        }
        if large || level == 1 {
            let gpa = leaf_address(format, level, value, gva);
            return finish(
                vm,
                regs,
                kind,
                &entries[..=walked],
                gpa,
                write,
                user,
                nx,
                nxe,
            );
        }
        table = if wide {
            value & ADDR_MASK
        } else {
            value & 0xffff_f000
        };
    }
    fault(false, false)
}

/// The guest physical address of `gva` through leaf `value` at `level`.
fn leaf_address(format: Format, level: u64, value: u64, gva: u64) -> u64 {
    match (format, level) {
        (_, 1) if format == Format::Bits32 => (value & 0xffff_f000) | (gva & 0xfff),
        (_, 1) => (value & ADDR_MASK) | (gva & 0xfff),
        // PSE-36: bits 13..20 of a 4 MiB entry are address bits 32..39.
        (Format::Bits32, _) => {
            (value & 0xffc0_0000) | (((value >> 13) & 0xff) << 32) | (gva & 0x3f_ffff)
        }
        (_, 2) => (value & ADDR_MASK & !0x1f_ffff) | (gva & 0x1f_ffff),
        _ => (value & ADDR_MASK & !0x3fff_ffff) | (gva & 0x3fff_ffff),
    }
}

/// Checks the access against the combined permissions, then sets accessed and dirty bits.
#[allow(clippy::too_many_arguments)]
fn finish(
    vm: &Vm,
    regs: &Registers,
    kind: AccessKind,
    entries: &[Entry],
    gpa: u64,
    write: bool,
    user: bool,
    nx: bool,
    nxe: bool,
) -> Result<Walk> {
    let wp = regs.cr0 & CR0_WP != 0;
    let denied =
        (kind.user && !user) || (kind.write && !write && (kind.user || wp)) || (kind.fetch && nx);
    if denied {
        return Ok(Walk::Fault(kind.error_code(nxe) | error::PRESENT));
    }
    let last = entries.len() - 1;
    let mut dirty = false;
    for (i, entry) in entries.iter().enumerate() {
        let is_leaf = i == last;
        // PAE's four root entries have no accessed bit.
        if entry.wide && i == 0 && !regs.long_mode() {
            continue;
        }
        let mut value = entry.value | PTE_A;
        if is_leaf && kind.write {
            value |= PTE_D;
        }
        if is_leaf {
            dirty = value & PTE_D != 0;
        }
        if value != entry.value {
            let bytes = value.to_le_bytes();
            let size = if entry.wide { 8 } else { 4 };
            if vm.write_guest(entry.gpa, &bytes[..size]).is_err() {
                return Ok(Walk::NoMemory);
            }
        }
    }
    Ok(Walk::Ok(Translation {
        gpa,
        access: Access {
            write,
            user,
            exec: !nx,
        },
        dirty,
    }))
}
