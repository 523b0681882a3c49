// SPDX-License-Identifier: GPL-2.0

//! `KVM_RUN`: entering the guest, and handling its exits until one needs user space.

use crate::{
    control, io, mmio,
    mmu::{Fault, Mmu},
    msr,
    registers::Registers,
    stats::{Stat, Stats},
    vm::Vm,
    walker::{self, AccessKind, Walk},
};
use kernel::{
    kvm::{self, run},
    mm::SharedPage,
    prelude::*,
    svm::{exit, Format},
};

/// Exception vectors rkvm injects or intercepts.
pub(crate) const UD_VECTOR: u8 = 6;
pub(crate) const GP_VECTOR: u8 = 13;
pub(crate) const PF_VECTOR: u8 = 14;

/// `KVM_EXIT_INTERNAL_ERROR`'s answer to an unsupported VMM call: `-KVM_ENOSYS`.
const KVM_ENOSYS: u64 = 1000;

/// What user space must do before the guest can go on.
pub(crate) enum UserExit {
    /// Port I/O; for an `OUT`, the data is already in the I/O page.
    Io(run::Io),
    Hlt,
    Mmio(run::Mmio),
    Shutdown,
    FailEntry(u64),
    InternalError {
        suberror: u32,
        data: [u64; 2],
    },
}

/// A `KVM_RUN` exit whose instruction finishes at the next `KVM_RUN`, with what user space
/// provided.
pub(crate) enum Pending {
    /// An `IN` of `size` bytes: the data goes to `RAX` (`RIP` already moved on).
    PortIn { size: u8 },
    /// An MMIO read: the data goes to a register, then `RIP` moves past the instruction.
    MmioRead(mmio::Read),
    /// An `INS`: the data goes to guest memory, then the registers move on.
    StringIn(io::StringIn),
}

/// Everything about a vCPU that `KVM_RUN` changes.
pub(crate) struct VcpuState {
    pub(crate) regs: Registers,
    pub(crate) mmu: Mmu,
    pub(crate) stats: Stats,
    pub(crate) pending: Option<Pending>,
    /// Whether the vCPU entered the guest yet.
    pub(crate) ran: bool,
}

impl VcpuState {
    /// Finishes the instruction of the last exit with what user space left in the `kvm_run`
    /// and I/O pages.
    pub(crate) fn complete(&mut self, vm: &Vm, run_page: &SharedPage, pio: &SharedPage) -> Result {
        match self.pending.take() {
            None => Ok(()),
            Some(Pending::PortIn { size }) => {
                let mut data = [0u8; 8];
                pio.read_bytes(0, &mut data[..usize::from(size)])?;
                self.regs
                    .write_gpr_sized(0, size, u64::from_le_bytes(data), false);
                Ok(())
            }
            Some(Pending::StringIn(ins)) => ins.complete(vm, &mut self.regs, pio),
            Some(Pending::MmioRead(read)) => {
                let mmio: run::Mmio = run_page.read(run::EXIT_DATA)?;
                read.complete(&mut self.regs, mmio.data);
                Ok(())
            }
        }
    }

    /// Drops every translation the guest may have: the shadow mappings, and its TLB entries
    /// at the next entry. For what changes the guest's paging (control register and `EFER`
    /// writes, `INVLPG`, a reset, new registers from user space).
    pub(crate) fn drop_translations(&mut self) {
        self.mmu.drop_all(&self.stats);
        self.regs.vmcb.request_tlb_flush();
    }

    /// Runs the guest once and handles the exit; returns the exit user space must see, if
    /// any.
    pub(crate) fn enter(&mut self, vm: &Vm, pio: &SharedPage) -> Result<Option<UserExit>> {
        let format = if self.regs.long_mode() {
            Format::LongMode
        } else {
            Format::Pae
        };
        let root = self.mmu.root(format, vm, &self.stats)?;
        self.ran = true;
        let r = &mut self.regs;
        let entry = vm.svm.run(&mut r.vmcb, root, &mut r.gprs, &mut r.fpu)?;
        if entry.flushed() {
            self.stats.inc(Stat::TlbFlush);
        }
        self.stats.inc(Stat::Exits);
        // An event the exit interrupted is delivered again.
        let control = self.regs.vmcb.control();
        let (int_info, int_err) = (control.exit_int_info, control.exit_int_info_err);
        self.regs.vmcb.inject_event(int_info, int_err);
        self.handle_exit(vm, pio)
    }

    fn handle_exit(&mut self, vm: &Vm, pio: &SharedPage) -> Result<Option<UserExit>> {
        let code = self.regs.vmcb.exit_code();
        let control = self.regs.vmcb.control();
        let (info1, info2) = (control.exit_info_1, control.exit_info_2);
        match code {
            exit::INTR | exit::NMI => {
                self.stats.inc(Stat::IrqExits);
                Ok(None)
            }
            exit::IOIO => io::exit(self, info1, info2, vm, pio),
            exit::HLT => {
                self.regs.skip(1);
                self.stats.inc(Stat::HaltExits);
                Ok(Some(UserExit::Hlt))
            }
            exit::CPUID => {
                msr::cpuid(&mut self.regs);
                Ok(None)
            }
            exit::MSR => {
                if msr::exit(&mut self.regs, info1 != 0) {
                    self.drop_translations();
                }
                Ok(None)
            }
            exit::VMMCALL => {
                // No hypercalls.
                let size = self.regs.native_size();
                self.regs
                    .write_gpr_sized(0, size, KVM_ENOSYS.wrapping_neg(), false);
                self.regs.skip(3);
                Ok(None)
            }
            exit::INVD => {
                self.regs.skip(2);
                Ok(None)
            }
            exit::VMRUN
            | exit::VMLOAD
            | exit::VMSAVE
            | exit::STGI
            | exit::CLGI
            | exit::SKINIT
            | exit::INVLPGA
            | exit::XSETBV
            | exit::MONITOR
            | exit::MWAIT => {
                // No nested virtualization, no XSAVE, no MONITOR in the guest's CPUID.
                self.regs.inject_exception(UD_VECTOR, None);
                Ok(None)
            }
            exit::SHUTDOWN => {
                // The VMCB is undefined after a shutdown: start over from reset, as KVM does.
                self.regs.reset()?;
                self.drop_translations();
                Ok(Some(UserExit::Shutdown))
            }
            exit::INVALID => Ok(Some(UserExit::FailEntry(u64::from(code)))),
            c if c == exit::EXCP_BASE + u32::from(PF_VECTOR) => {
                self.stats.inc(Stat::PfTaken);
                self.page_fault(vm, info2, info1)
            }
            0x00..=0x1f => control::cr_exit(self, vm, code),
            0x20..=0x3f => control::dr_exit(self, vm),
            exit::INVLPG => control::invlpg(self, vm),
            _ => Ok(Some(UserExit::InternalError {
                suberror: run::INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
                data: [u64::from(code), 0],
            })),
        }
    }

    /// A page fault at guest virtual address `gva` with error code `error`: a missing shadow
    /// mapping, MMIO, or the guest's own fault, reflected to it.
    fn page_fault(&mut self, vm: &Vm, gva: u64, error: u64) -> Result<Option<UserExit>> {
        if !self.regs.paging() {
            return match self.mmu.direct_fault(vm, gva, &self.stats)? {
                Fault::Mapped => Ok(None),
                Fault::Mmio(gpa) => mmio::exit(self, vm, gpa),
            };
        }
        let kind = AccessKind::from_error(error);
        match walker::walk(vm, &self.regs, gva, kind)? {
            Walk::Ok(t) => {
                let mut access = t.access;
                // Writable only once the guest's entry is dirty: the first write faults, and
                // the walk sets the dirty bit.
                access.write &= t.dirty;
                // CR0.WP clear lets the kernel write read-only pages: map it writable for the
                // kernel only, until a user access faults and maps it again.
                if kind.write && !kind.user && !t.access.write {
                    access.write = true;
                    access.user = false;
                }
                match self.mmu.map(vm, gva, t.gpa, access, &self.stats)? {
                    Fault::Mapped => Ok(None),
                    Fault::Mmio(gpa) => mmio::exit(self, vm, gpa),
                }
            }
            Walk::Fault(code) => {
                self.stats.inc(Stat::PfGuest);
                self.inject_page_fault(gva, code);
                Ok(None)
            }
            Walk::NoMemory => Ok(Some(mmio::emulation_error())),
        }
    }

    /// Reflects a page fault to the guest. A fault while delivering another exception becomes
    /// a double fault, as on the processor.
    pub(crate) fn inject_page_fault(&mut self, gva: u64, code: u32) {
        const EXCEPTION_VALID: u32 = (1 << 31) | (3 << 8);
        const DF_VECTOR: u8 = 8;
        let pending = self.regs.vmcb.control().event_inj;
        if pending & EXCEPTION_VALID == EXCEPTION_VALID {
            self.regs.inject_exception(DF_VECTOR, Some(0));
            return;
        }
        self.regs.vmcb.save_mut().cr2 = gva;
        self.regs.inject_exception(PF_VECTOR, Some(code));
    }

    /// Fills the `kvm_run` page for `exit`.
    pub(crate) fn report(&mut self, run_page: &SharedPage, exit: UserExit) -> Result {
        let reason = match exit {
            UserExit::Io(io) => {
                run_page.write(run::EXIT_DATA, &io)?;
                kvm::exit::IO
            }
            UserExit::Hlt => kvm::exit::HLT,
            UserExit::Mmio(mmio) => {
                run_page.write(run::EXIT_DATA, &mmio)?;
                kvm::exit::MMIO
            }
            UserExit::Shutdown => kvm::exit::SHUTDOWN,
            UserExit::FailEntry(reason) => {
                let fail = run::FailEntry {
                    hardware_entry_failure_reason: reason,
                    ..Default::default()
                };
                run_page.write(run::EXIT_DATA, &fail)?;
                kvm::exit::FAIL_ENTRY
            }
            UserExit::InternalError { suberror, data } => {
                let mut error = run::InternalError {
                    suberror,
                    ndata: 2,
                    ..Default::default()
                };
                error.data[0] = data[0];
                error.data[1] = data[1];
                run_page.write(run::EXIT_DATA, &error)?;
                kvm::exit::INTERNAL_ERROR
            }
        };
        self.report_reason(run_page, reason)
    }

    /// Writes `reason` and the state KVM reports with every exit.
    pub(crate) fn report_reason(&self, run_page: &SharedPage, reason: u32) -> Result {
        let save = self.regs.vmcb.save();
        let if_flag = save.rflags & crate::registers::bits::RFLAGS_IF != 0;
        let shadow = self.regs.vmcb.control().int_state & 1 != 0;
        run_page.write(run::EXIT_REASON, &reason)?;
        run_page.write(run::IF_FLAG, &u8::from(if_flag))?;
        run_page.write(
            run::READY_FOR_INTERRUPT_INJECTION,
            &u8::from(if_flag && !shadow),
        )?;
        run_page.write(run::FLAGS, &0u16)?;
        run_page.write(run::CR8, &self.regs.cr8())?;
        run_page.write(run::APIC_BASE, &self.regs.apic_base())
    }
}
