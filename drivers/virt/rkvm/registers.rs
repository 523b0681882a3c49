// SPDX-License-Identifier: GPL-2.0

//! A vCPU's registers: where each one lives, and KVM's view of them.
//!
//! The VMCB holds most of the state the processor loads and saves, [`GuestRegs`] the other
//! general-purpose registers, and [`Registers`] the guest's own view of the paging control
//! registers: with shadow paging the processor runs the guest with paging forced on, so the
//! VMCB holds what the hardware uses, not what the guest wrote.

use crate::cpuid::Cpuid;
use kernel::{
    kvm,
    prelude::*,
    svm::{intercept, GuestFpu, GuestRegs, PermissionMaps, Segment, Vmcb},
    sync::Arc,
};

/// Control register and `EFER` bits rkvm looks at.
pub(crate) mod bits {
    pub(crate) const CR0_PE: u64 = 1 << 0;
    pub(crate) const CR0_ET: u64 = 1 << 4;
    pub(crate) const CR0_WP: u64 = 1 << 16;
    pub(crate) const CR0_NW: u64 = 1 << 29;
    pub(crate) const CR0_CD: u64 = 1 << 30;
    pub(crate) const CR0_PG: u64 = 1 << 31;
    pub(crate) const CR4_PSE: u64 = 1 << 4;
    pub(crate) const CR4_PAE: u64 = 1 << 5;
    /// The `CR4` bits a guest may set: those that need no CPUID feature KVM would have to
    /// be told about (VME to OSXMMEXCPT).
    pub(crate) const CR4_ALLOWED: u64 = 0x7ff;
    pub(crate) const EFER_SCE: u64 = 1 << 0;
    pub(crate) const EFER_LME: u64 = 1 << 8;
    pub(crate) const EFER_LMA: u64 = 1 << 10;
    pub(crate) const EFER_NX: u64 = 1 << 11;
    pub(crate) const RFLAGS_FIXED: u64 = 1 << 1;
    pub(crate) const RFLAGS_IF: u64 = 1 << 9;
    pub(crate) const RFLAGS_VM: u64 = 1 << 17;
}

use bits::*;

/// Segment attribute bits in the VMCB's packed format.
const ATTR_S: u16 = 1 << 4;
const ATTR_P: u16 = 1 << 7;
const ATTR_L: u16 = 1 << 9;
const ATTR_DB: u16 = 1 << 10;

/// The segment registers, in KVM's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Es,
    Cs,
    Ss,
    Ds,
    Fs,
    Gs,
}

/// How the guest executes code: the default operand and address size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CodeSize {
    Bits16,
    Bits32,
    Bits64,
}

/// A vCPU's registers.
pub(crate) struct Registers {
    pub(crate) vmcb: Vmcb,
    pub(crate) gprs: GuestRegs,
    pub(crate) fpu: GuestFpu,
    /// The guest's `CR0`, `CR3`, `CR4` and `EFER`, as it wrote them.
    pub(crate) cr0: u64,
    pub(crate) cr3: u64,
    pub(crate) cr4: u64,
    pub(crate) efer: u64,
    /// Kept for `KVM_GET_SREGS`: rkvm has no local APIC.
    cr8: u64,
    apic_base: u64,
    /// `DR0` to `DR3`: the guest's breakpoints are not armed on the processor.
    pub(crate) dr: [u64; 4],
    /// What `CPUID` returns.
    pub(crate) cpuid: Cpuid,
}

impl Registers {
    /// Registers in KVM's reset state.
    pub(crate) fn new(maps: Arc<PermissionMaps>) -> Result<Self> {
        let mut regs = Self {
            vmcb: Vmcb::new(maps)?,
            gprs: GuestRegs::default(),
            fpu: GuestFpu::new(),
            cr0: 0,
            cr3: 0,
            cr4: 0,
            efer: 0,
            cr8: 0,
            apic_base: 0,
            dr: [0; 4],
            cpuid: Cpuid::default(),
        };
        regs.set_intercepts();
        regs.reset()?;
        Ok(regs)
    }

    /// What rkvm intercepts beyond what [`kernel::svm`] always does: page faults and the
    /// control register reads that shadow paging needs, `INVLPG`, debug registers, and the
    /// instructions it emulates.
    fn set_intercepts(&mut self) {
        let v = &mut self.vmcb;
        v.set_intercept(
            intercept::EXCEPTION + u32::from(crate::run::PF_VECTOR),
            true,
        );
        for bit in [
            intercept::CR0_READ,
            intercept::CR3_READ,
            intercept::CR4_READ,
            intercept::CPUID,
            intercept::HLT,
            intercept::INVLPG,
            intercept::VMMCALL,
        ] {
            v.set_intercept(bit, true);
        }
        for dr in 0..8 {
            v.set_intercept(intercept::DR0_READ + dr, true);
            v.set_intercept(intercept::DR0_WRITE + dr, true);
        }
    }

    /// Puts every register in the state KVM gives a vCPU at creation (on AMD): real mode,
    /// executing from `f000:fff0`.
    pub(crate) fn reset(&mut self) -> Result {
        self.gprs = GuestRegs::default();
        self.fpu = GuestFpu::new();
        self.dr = [0; 4];
        let data = kvm::Segment {
            limit: 0xffff,
            type_: 3,
            present: 1,
            s: 1,
            ..Default::default()
        };
        let sregs = kvm::Sregs {
            cs: kvm::Segment {
                base: 0xffff_0000,
                selector: 0xf000,
                type_: 0xa,
                ..data
            },
            ds: data,
            es: data,
            fs: data,
            gs: data,
            ss: kvm::Segment { type_: 2, ..data },
            tr: kvm::Segment {
                type_: 3,
                s: 0,
                ..data
            },
            ldt: kvm::Segment {
                type_: 2,
                s: 0,
                ..data
            },
            gdt: kvm::Dtable {
                limit: 0xffff,
                ..Default::default()
            },
            idt: kvm::Dtable {
                limit: 0xffff,
                ..Default::default()
            },
            cr0: CR0_CD | CR0_NW | CR0_ET,
            ..Default::default()
        };
        self.set_sregs(&sregs)?;
        self.set_regs(&kvm::Regs {
            rip: 0xfff0,
            rflags: RFLAGS_FIXED,
            // The processor signature KVM reports before user space sets CPUID.
            rdx: 0x600,
            ..Default::default()
        });
        let save = self.vmcb.save_mut();
        save.dr6 = 0xffff_0ff0;
        save.dr7 = 0x400;
        // Write back, write combining, write through, uncached: the power-on PAT.
        save.g_pat = 0x0007_0406_0007_0406;
        Ok(())
    }

    /// `KVM_GET_REGS`.
    pub(crate) fn regs(&self) -> kvm::Regs {
        let g = &self.gprs;
        let save = self.vmcb.save();
        kvm::Regs {
            rax: save.rax,
            rbx: g.rbx,
            rcx: g.rcx,
            rdx: g.rdx,
            rsi: g.rsi,
            rdi: g.rdi,
            rsp: save.rsp,
            rbp: g.rbp,
            r8: g.r8,
            r9: g.r9,
            r10: g.r10,
            r11: g.r11,
            r12: g.r12,
            r13: g.r13,
            r14: g.r14,
            r15: g.r15,
            rip: save.rip,
            rflags: save.rflags,
        }
    }

    /// `KVM_SET_REGS`.
    pub(crate) fn set_regs(&mut self, r: &kvm::Regs) {
        self.gprs = GuestRegs {
            rbx: r.rbx,
            rcx: r.rcx,
            rdx: r.rdx,
            rsi: r.rsi,
            rdi: r.rdi,
            rbp: r.rbp,
            r8: r.r8,
            r9: r.r9,
            r10: r.r10,
            r11: r.r11,
            r12: r.r12,
            r13: r.r13,
            r14: r.r14,
            r15: r.r15,
        };
        let save = self.vmcb.save_mut();
        save.rax = r.rax;
        save.rsp = r.rsp;
        save.rip = r.rip;
        // Bit 1 of RFLAGS always reads as one.
        save.rflags = r.rflags | RFLAGS_FIXED;
    }

    /// `KVM_GET_SREGS`.
    pub(crate) fn sregs(&self) -> kvm::Sregs {
        let save = self.vmcb.save();
        let cpl = save.cpl;
        let mut ss = seg_to_kvm(save.ss);
        // As KVM reports it: SS.DPL is the CPL.
        ss.dpl = cpl;
        let mut tr = seg_to_kvm(save.tr);
        // The busy bit of a loaded TSS.
        tr.type_ |= 2;
        kvm::Sregs {
            cs: seg_to_kvm(save.cs),
            ds: seg_to_kvm(save.ds),
            es: seg_to_kvm(save.es),
            fs: seg_to_kvm(save.fs),
            gs: seg_to_kvm(save.gs),
            ss,
            tr,
            ldt: seg_to_kvm(save.ldtr),
            gdt: dtable_to_kvm(save.gdtr),
            idt: dtable_to_kvm(save.idtr),
            cr0: self.cr0,
            cr2: save.cr2,
            cr3: self.cr3,
            cr4: self.cr4,
            cr8: self.cr8,
            efer: self.efer,
            apic_base: self.apic_base,
            interrupt_bitmap: [0; 4],
        }
    }

    /// `KVM_SET_SREGS`, with KVM's checks (`EINVAL`).
    pub(crate) fn set_sregs(&mut self, s: &kvm::Sregs) -> Result {
        check_control(s.cr0, s.cr4, s.efer, &self.cpuid)?;
        // A 64-bit code segment only in long mode.
        if s.cs.l != 0 && (s.efer & EFER_LME == 0 || s.cr0 & CR0_PG == 0) {
            return Err(EINVAL);
        }
        let save = self.vmcb.save_mut();
        save.cs = seg_from_kvm(&s.cs);
        save.ds = seg_from_kvm(&s.ds);
        save.es = seg_from_kvm(&s.es);
        save.fs = seg_from_kvm(&s.fs);
        save.gs = seg_from_kvm(&s.gs);
        save.ss = seg_from_kvm(&s.ss);
        save.tr = seg_from_kvm(&s.tr);
        save.ldtr = seg_from_kvm(&s.ldt);
        save.gdtr = dtable_from_kvm(&s.gdt);
        save.idtr = dtable_from_kvm(&s.idt);
        save.cpl = s.ss.dpl & 3;
        save.cr2 = s.cr2;
        self.cr0 = s.cr0;
        self.cr3 = s.cr3;
        self.cr4 = s.cr4;
        self.efer = s.efer;
        self.cr8 = s.cr8;
        self.apic_base = s.apic_base;
        self.update_hardware_control();
        Ok(())
    }

    /// Derives the hardware's `CR0`, `CR4` and `EFER` from the guest's. The guest always
    /// runs paged (on rkvm's shadow tables), with write protection honoured in supervisor
    /// mode too, and with caching on.
    pub(crate) fn update_hardware_control(&mut self) {
        let (cr0, cr4, efer) = (self.cr0, self.cr4, self.efer);
        let paging = cr0 & CR0_PG != 0;
        let save = self.vmcb.save_mut();
        save.cr0 = (cr0 & !(CR0_CD | CR0_NW)) | CR0_PG | CR0_WP;
        save.cr4 = (cr4 & !CR4_PSE) | CR4_PAE;
        save.efer = if paging {
            efer
        } else {
            efer & !(EFER_LME | EFER_LMA)
        };
    }

    /// `CR8`, as `KVM_SET_SREGS` set it.
    pub(crate) fn cr8(&self) -> u64 {
        self.cr8
    }

    /// The APIC base, as `KVM_SET_SREGS` set it.
    pub(crate) fn apic_base(&self) -> u64 {
        self.apic_base
    }

    /// Whether the guest has paging on.
    pub(crate) fn paging(&self) -> bool {
        self.cr0 & CR0_PG != 0
    }

    /// Whether the guest is in long mode.
    pub(crate) fn long_mode(&self) -> bool {
        self.efer & EFER_LMA != 0
    }

    /// Whether the guest is in protected mode.
    pub(crate) fn protected_mode(&self) -> bool {
        self.cr0 & CR0_PE != 0
    }

    /// The code size of the current code segment.
    pub(crate) fn code_size(&self) -> CodeSize {
        let save = self.vmcb.save();
        let cs = save.cs.attrib;
        let vm86 = save.rflags & RFLAGS_VM != 0;
        if !self.protected_mode() || vm86 {
            CodeSize::Bits16
        } else if self.long_mode() && cs & ATTR_L != 0 {
            CodeSize::Bits64
        } else if cs & ATTR_DB != 0 {
            CodeSize::Bits32
        } else {
            CodeSize::Bits16
        }
    }

    /// The base of segment `seg`.
    pub(crate) fn segment_base(&self, seg: Seg) -> u64 {
        let save = self.vmcb.save();
        let s = match seg {
            Seg::Es => save.es,
            Seg::Cs => save.cs,
            Seg::Ss => save.ss,
            Seg::Ds => save.ds,
            Seg::Fs => save.fs,
            Seg::Gs => save.gs,
        };
        // In 64-bit mode only FS and GS have a base.
        if self.code_size() == CodeSize::Bits64 && !matches!(seg, Seg::Fs | Seg::Gs) {
            0
        } else {
            s.base
        }
    }

    /// The current privilege level.
    pub(crate) fn cpl(&self) -> u8 {
        self.vmcb.save().cpl
    }

    /// General-purpose register `n` in the instruction encoding's order (`RAX`, `RCX`,
    /// `RDX`, `RBX`, `RSP`, `RBP`, `RSI`, `RDI`, `R8`...).
    pub(crate) fn gpr(&self, n: u8) -> u64 {
        let g = &self.gprs;
        let save = self.vmcb.save();
        match n & 15 {
            0 => save.rax,
            1 => g.rcx,
            2 => g.rdx,
            3 => g.rbx,
            4 => save.rsp,
            5 => g.rbp,
            6 => g.rsi,
            7 => g.rdi,
            8 => g.r8,
            9 => g.r9,
            10 => g.r10,
            11 => g.r11,
            12 => g.r12,
            13 => g.r13,
            14 => g.r14,
            _ => g.r15,
        }
    }

    /// Sets general-purpose register `n` (see [`Registers::gpr`]).
    pub(crate) fn set_gpr(&mut self, n: u8, value: u64) {
        let g = &mut self.gprs;
        match n & 15 {
            0 => self.vmcb.save_mut().rax = value,
            1 => g.rcx = value,
            2 => g.rdx = value,
            3 => g.rbx = value,
            4 => self.vmcb.save_mut().rsp = value,
            5 => g.rbp = value,
            6 => g.rsi = value,
            7 => g.rdi = value,
            8 => g.r8 = value,
            9 => g.r9 = value,
            10 => g.r10 = value,
            11 => g.r11 = value,
            12 => g.r12 = value,
            13 => g.r13 = value,
            14 => g.r14 = value,
            _ => g.r15 = value,
        }
    }

    /// Writes the low `size` bytes of register `n` as an instruction of that operand size
    /// does: 32-bit writes clear the upper half, 8- and 16-bit writes keep the rest.
    /// `high_byte` selects `AH`, `CH`, `DH` or `BH` for `n` 0 to 3.
    pub(crate) fn write_gpr_sized(&mut self, n: u8, size: u8, value: u64, high_byte: bool) {
        let old = self.gpr(n);
        let new = match size {
            1 if high_byte => (old & !0xff00) | ((value & 0xff) << 8),
            1 => (old & !0xff) | (value & 0xff),
            2 => (old & !0xffff) | (value & 0xffff),
            4 => value & 0xffff_ffff,
            _ => value,
        };
        self.set_gpr(n, new);
    }

    /// Makes the guest take exception `vector` at the next entry, with `error_code` where the
    /// exception has one (real mode pushes none).
    pub(crate) fn inject_exception(&mut self, vector: u8, error_code: Option<u32>) {
        const TYPE_EXCEPTION: u32 = 3 << 8;
        const ERROR_VALID: u32 = 1 << 11;
        const VALID: u32 = 1 << 31;
        let mut event = u32::from(vector) | TYPE_EXCEPTION | VALID;
        let mut error = 0;
        if let Some(code) = error_code.filter(|_| self.protected_mode()) {
            event |= ERROR_VALID;
            error = code;
        }
        self.vmcb.inject_event(event, error);
    }

    /// The operand size of a 64-bit-capable result in the current mode: 8 in 64-bit code,
    /// 4 otherwise.
    pub(crate) fn native_size(&self) -> u8 {
        if self.code_size() == CodeSize::Bits64 {
            8
        } else {
            4
        }
    }

    /// Moves `RIP` past the current instruction, of `len` bytes.
    pub(crate) fn skip(&mut self, len: u64) {
        let wrap = match self.code_size() {
            CodeSize::Bits64 => u64::MAX,
            _ => 0xffff_ffff,
        };
        let save = self.vmcb.save_mut();
        save.rip = save.rip.wrapping_add(len) & wrap;
    }
}

/// The `EFER` bits the guest's CPUID allows.
pub(crate) fn efer_allowed(cpuid: &Cpuid) -> u64 {
    let mut allowed = EFER_SCE;
    if cpuid.long_mode() {
        allowed |= EFER_LME | EFER_LMA;
    }
    if cpuid.nx() {
        allowed |= EFER_NX;
    }
    allowed
}

/// KVM's checks of `CR0`, `CR4` and `EFER` from `KVM_SET_SREGS`.
pub(crate) fn check_control(cr0: u64, cr4: u64, efer: u64, cpuid: &Cpuid) -> Result {
    if efer & !efer_allowed(cpuid) != 0 {
        return Err(EINVAL);
    }
    let cr0_valid = cr0 >> 32 == 0
        && (cr0 & CR0_NW == 0 || cr0 & CR0_CD != 0)
        && (cr0 & CR0_PG == 0 || cr0 & CR0_PE != 0);
    if !cr0_valid || cr4 & !CR4_ALLOWED != 0 {
        return Err(EINVAL);
    }
    if efer & EFER_LME != 0 && cr0 & CR0_PG != 0 {
        if cr4 & CR4_PAE == 0 || efer & EFER_LMA == 0 {
            return Err(EINVAL);
        }
    } else if efer & EFER_LMA != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

fn seg_to_kvm(s: Segment) -> kvm::Segment {
    let a = s.attrib;
    let present = u8::from(a & ATTR_P != 0);
    let unusable = 1 - present;
    kvm::Segment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: (a & 0xf) as u8,
        s: u8::from(a & ATTR_S != 0),
        dpl: ((a >> 5) & 3) as u8,
        present,
        avl: ((a >> 8) & 1) as u8,
        l: u8::from(a & ATTR_L != 0),
        // Unusable segments report no default size, as on Intel.
        db: u8::from(a & ATTR_DB != 0 && unusable == 0),
        // The processor ignores G; KVM reports the one the limit implies.
        g: u8::from(s.limit > 0xfffff),
        unusable,
        padding: 0,
    }
}

fn seg_from_kvm(s: &kvm::Segment) -> Segment {
    let present = s.present & 1 != 0 && s.unusable == 0;
    let attrib = u16::from(s.type_ & 0xf)
        | (u16::from(s.s & 1) << 4)
        | (u16::from(s.dpl & 3) << 5)
        | (u16::from(present) << 7)
        | (u16::from(s.avl & 1) << 8)
        | (u16::from(s.l & 1) << 9)
        | (u16::from(s.db & 1) << 10)
        | (u16::from(s.g & 1) << 11);
    Segment {
        selector: s.selector,
        attrib,
        limit: s.limit,
        base: s.base,
    }
}

fn dtable_to_kvm(s: Segment) -> kvm::Dtable {
    kvm::Dtable {
        base: s.base,
        limit: s.limit as u16,
        padding: [0; 3],
    }
}

fn dtable_from_kvm(d: &kvm::Dtable) -> Segment {
    Segment {
        selector: 0,
        attrib: 0,
        limit: u32::from(d.limit),
        base: d.base,
    }
}
