// SPDX-License-Identifier: GPL-2.0

//! The virtual machine control block: a guest's state, and what makes it exit.

use super::{
    page_address, page_phys, page_table::Root, Asids, GuestTlb, PermissionMaps, RootStamp,
    TlbControl, TlbPlan,
};
use crate::{
    alloc::flags::*,
    bindings,
    error::{code::*, Result},
    page::Page,
    sync::Arc,
};

/// The intercepts a hypervisor may set with [`Vmcb::set_intercept`]: bit numbers in the
/// VMCB's intercept vector.
pub mod intercept {
    use crate::bindings;

    /// Reads of `CR0`, `CR3` and `CR4`.
    pub const CR0_READ: u32 = bindings::INTERCEPT_CR0_READ;
    #[allow(missing_docs)]
    pub const CR3_READ: u32 = bindings::INTERCEPT_CR3_READ;
    #[allow(missing_docs)]
    pub const CR4_READ: u32 = bindings::INTERCEPT_CR4_READ;
    /// Reads of `DR0` (the next seven bits are `DR1` to `DR7`).
    pub const DR0_READ: u32 = bindings::INTERCEPT_DR0_READ;
    /// Writes of `DR0` (the next seven bits are `DR1` to `DR7`).
    pub const DR0_WRITE: u32 = bindings::INTERCEPT_DR0_WRITE;
    /// Exception vector 0 (vector `n` is bit `EXCEPTION + n`).
    pub const EXCEPTION: u32 = bindings::INTERCEPT_EXCEPTION_OFFSET;
    /// `CPUID`.
    pub const CPUID: u32 = bindings::INTERCEPT_CPUID;
    /// `HLT`.
    pub const HLT: u32 = bindings::INTERCEPT_HLT;
    /// `INVLPG`.
    pub const INVLPG: u32 = bindings::INTERCEPT_INVLPG;
    /// `VMMCALL`.
    pub const VMMCALL: u32 = bindings::INTERCEPT_VMMCALL;
    /// `PAUSE`.
    pub const PAUSE: u32 = bindings::INTERCEPT_PAUSE;
}

/// `#VMEXIT` codes, as [`Vmcb::exit_code`] returns them.
#[allow(missing_docs)]
pub mod exit {
    use crate::bindings;

    pub const READ_CR0: u32 = bindings::SVM_EXIT_READ_CR0;
    pub const WRITE_CR0: u32 = bindings::SVM_EXIT_WRITE_CR0;
    pub const READ_DR0: u32 = bindings::SVM_EXIT_READ_DR0;
    pub const WRITE_DR0: u32 = bindings::SVM_EXIT_WRITE_DR0;
    pub const EXCP_BASE: u32 = bindings::SVM_EXIT_EXCP_BASE;
    pub const INTR: u32 = bindings::SVM_EXIT_INTR;
    pub const NMI: u32 = bindings::SVM_EXIT_NMI;
    pub const CPUID: u32 = bindings::SVM_EXIT_CPUID;
    pub const PAUSE: u32 = bindings::SVM_EXIT_PAUSE;
    pub const HLT: u32 = bindings::SVM_EXIT_HLT;
    pub const INVLPG: u32 = bindings::SVM_EXIT_INVLPG;
    pub const IOIO: u32 = bindings::SVM_EXIT_IOIO;
    pub const MSR: u32 = bindings::SVM_EXIT_MSR;
    pub const TASK_SWITCH: u32 = bindings::SVM_EXIT_TASK_SWITCH;
    pub const SHUTDOWN: u32 = bindings::SVM_EXIT_SHUTDOWN;
    pub const VMRUN: u32 = bindings::SVM_EXIT_VMRUN;
    pub const VMMCALL: u32 = bindings::SVM_EXIT_VMMCALL;
    pub const VMLOAD: u32 = bindings::SVM_EXIT_VMLOAD;
    pub const VMSAVE: u32 = bindings::SVM_EXIT_VMSAVE;
    pub const STGI: u32 = bindings::SVM_EXIT_STGI;
    pub const CLGI: u32 = bindings::SVM_EXIT_CLGI;
    pub const SKINIT: u32 = bindings::SVM_EXIT_SKINIT;
    pub const INVLPGA: u32 = bindings::SVM_EXIT_INVLPGA;
    pub const XSETBV: u32 = bindings::SVM_EXIT_XSETBV;
    pub const INVD: u32 = bindings::SVM_EXIT_INVD;
    pub const MONITOR: u32 = bindings::SVM_EXIT_MONITOR;
    pub const MWAIT: u32 = bindings::SVM_EXIT_MWAIT;
    /// `VMRUN` refused the guest state (`VMEXIT_INVALID`).
    pub const INVALID: u32 = u32::MAX;
}

/// A segment register as the VMCB holds it.
pub type Segment = bindings::vmcb_seg;

/// Intercepts that keep the guest from reaching the host: port and MSR accesses (all of
/// them, by the permission maps), writes to the paging control registers, task switches
/// (which load `CR3`), the SVM and cache-control instructions, and shutdown.
const MANDATORY: [u32; 19] = [
    bindings::INTERCEPT_CR0_WRITE,
    bindings::INTERCEPT_CR3_WRITE,
    bindings::INTERCEPT_CR4_WRITE,
    bindings::INTERCEPT_INTR,
    bindings::INTERCEPT_NMI,
    bindings::INTERCEPT_INVD,
    bindings::INTERCEPT_INVLPGA,
    bindings::INTERCEPT_IOIO_PROT,
    bindings::INTERCEPT_MSR_PROT,
    bindings::INTERCEPT_TASK_SWITCH,
    bindings::INTERCEPT_SHUTDOWN,
    bindings::INTERCEPT_VMRUN,
    bindings::INTERCEPT_VMLOAD,
    bindings::INTERCEPT_VMSAVE,
    bindings::INTERCEPT_STGI,
    bindings::INTERCEPT_CLGI,
    bindings::INTERCEPT_SKINIT,
    bindings::INTERCEPT_XSETBV,
    bindings::INTERCEPT_MWAIT,
];

/// `int_ctl` bits a hypervisor may set: virtual interrupts and their masking, nothing that
/// makes the processor use more host memory (AVIC, vGIF).
const INT_CTL_ALLOWED: u32 = bindings::V_TPR_MASK
    | bindings::V_IRQ_MASK
    | bindings::V_INTR_PRIO_MASK
    | bindings::V_IGN_TPR_MASK
    | bindings::V_INTR_MASKING_MASK;

/// `CR0.PG`, `CR4.PAE`, and the `EFER` bits `run` manages.
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;
const EFER_SVME: u64 = 1 << 12;

/// A virtual machine control block: one guest CPU's state, its intercepts, and the cause of
/// its last `#VMEXIT`.
///
/// The guest's registers are in [`Vmcb::save`] (with the hardware's view of the paging
/// registers: [`super::Svm::run`] forces paging on, over the page tables it is given). The
/// control area is read through [`Vmcb::control`]; what may be changed there has its own
/// methods, so that the guest cannot be given access to host memory.
///
/// # Examples
///
/// ```
/// use kernel::{prelude::*, svm::{exit, intercept, PermissionMaps, Vmcb}, sync::Arc};
///
/// let maps = Arc::new(PermissionMaps::new()?, GFP_KERNEL)?;
/// let mut vmcb = Vmcb::new(maps)?;
/// vmcb.set_intercept(intercept::HLT, true);
/// vmcb.save_mut().rip = 0xfff0;
/// assert_eq!(vmcb.save().rip, 0xfff0);
/// assert!(vmcb.intercepted(intercept::HLT));
/// assert!(!vmcb.intercepted(intercept::CPUID));
/// // Nothing ran yet.
/// assert_eq!(vmcb.exit_code(), 0);
/// # let _ = exit::HLT;
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `page` holds a `struct vmcb`; `tlb` is where the guest's TLB entries are (its ASID) and
/// what they were made from.
pub struct Vmcb {
    page: Page,
    tlb: GuestTlb,
    maps: Arc<PermissionMaps>,
}

impl Vmcb {
    /// A zeroed VMCB whose port and MSR accesses are all intercepted through `maps`.
    pub fn new(maps: Arc<PermissionMaps>) -> Result<Self> {
        let page = Page::alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO)?;
        // INVARIANT: a zeroed page is a valid `struct vmcb`; the guest never ran.
        Ok(Self {
            page,
            tlb: GuestTlb::new(),
            maps,
        })
    }

    fn raw(&self) -> &bindings::vmcb {
        // SAFETY: by the type invariant the page holds a `struct vmcb`, which fits in it, and
        // it is only changed through `&mut self`.
        unsafe { &*(page_address(&self.page) as *const bindings::vmcb) }
    }

    fn raw_mut(&mut self) -> &mut bindings::vmcb {
        // SAFETY: as in `raw`, and `&mut self` makes the access exclusive.
        unsafe { &mut *(page_address(&self.page) as *mut bindings::vmcb) }
    }

    /// The control area: intercepts, exit code and information, event injection.
    pub fn control(&self) -> &bindings::vmcb_control_area {
        &self.raw().control
    }

    /// The guest's state.
    pub fn save(&self) -> &bindings::vmcb_save_area {
        // SAFETY: without SEV-ES, which `run` never enables, the union holds the save area.
        unsafe { &self.raw().__bindgen_anon_1.save }
    }

    /// The guest's state, to change it.
    pub fn save_mut(&mut self) -> &mut bindings::vmcb_save_area {
        // SAFETY: as in `save`.
        unsafe { &mut self.raw_mut().__bindgen_anon_1.save }
    }

    /// Sets or clears intercept `bit` (one of [`intercept`]). Those the guest must not be
    /// without stay set whatever this says.
    pub fn set_intercept(&mut self, bit: u32, on: bool) {
        let (word, mask) = ((bit / 32) as usize, 1u32 << (bit % 32));
        let control = &mut self.raw_mut().control;
        // The control area is packed: copy the vector out and back.
        let mut intercepts = control.intercepts;
        if let Some(w) = intercepts.get_mut(word) {
            if on {
                *w |= mask;
            } else {
                *w &= !mask;
            }
        }
        control.intercepts = intercepts;
    }

    /// Whether intercept `bit` is set.
    pub fn intercepted(&self, bit: u32) -> bool {
        let intercepts = self.control().intercepts;
        intercepts
            .get((bit / 32) as usize)
            .is_some_and(|w| w & (1 << (bit % 32)) != 0)
    }

    /// The code of the last `#VMEXIT` (see [`exit`]).
    pub fn exit_code(&self) -> u32 {
        self.control().exit_code
    }

    /// Injects an event into the guest at the next `VMRUN` (`EVENTINJ`: vector, type,
    /// error-code valid and valid bits, and the error code).
    pub fn inject_event(&mut self, event: u32, error_code: u32) {
        let control = &mut self.raw_mut().control;
        control.event_inj = event;
        control.event_inj_err = error_code;
    }

    /// Sets the interrupt shadow (the guest executed `STI` or `MOV SS` just before).
    pub fn set_interrupt_shadow(&mut self, on: bool) {
        self.raw_mut().control.int_state = u32::from(on);
    }

    /// Asks for the guest's TLB entries to be flushed before it runs again: for what the
    /// architecture flushes (a `CR3` write, `INVLPG`, a change of paging mode), since the
    /// shadow tables may not have changed.
    pub fn request_tlb_flush(&mut self) {
        self.tlb.request_flush();
    }

    pub(super) fn phys_addr(&self) -> u64 {
        page_phys(&self.page)
    }

    /// Chooses the guest's ASID and what `VMRUN` flushes, for an entry on the CPU whose
    /// ASIDs are `cpu` (the current one, which the caller stays on) with the tables of
    /// `root`.
    pub(super) fn prepare_tlb(&mut self, cpu: &Asids, root: RootStamp) -> TlbPlan {
        let entry = self.tlb.prepare(cpu, root);
        let control = &mut self.raw_mut().control;
        control.asid = entry.asid;
        control.tlb_ctl = match entry.control {
            TlbControl::Nothing => bindings::TLB_CONTROL_DO_NOTHING,
            TlbControl::FlushAsid => bindings::TLB_CONTROL_FLUSH_ASID,
            TlbControl::FlushAll => bindings::TLB_CONTROL_FLUSH_ALL_ASID,
        } as u8;
        entry
    }

    /// Makes the VMCB safe to run: the guest pages through `root` only, and cannot reach host
    /// ports, MSRs or other physical memory.
    pub(super) fn prepare_run(&mut self, root: &Root) -> Result {
        let iopm = self.maps.iopm_phys();
        let msrpm = self.maps.msrpm_phys();
        let cr3 = root.phys_addr();
        let save = self.save_mut();
        if (save.efer & EFER_LME != 0) != root.is_long_mode() {
            return Err(EINVAL);
        }
        save.cr0 |= CR0_PG;
        save.cr4 |= CR4_PAE;
        save.cr3 = cr3;
        save.efer |= EFER_SVME | EFER_NXE;
        if save.efer & EFER_LME != 0 {
            save.efer |= EFER_LMA;
        } else {
            save.efer &= !EFER_LMA;
        }
        for bit in MANDATORY {
            self.set_intercept(bit, true);
        }
        let control = &mut self.raw_mut().control;
        control.iopm_base_pa = iopm;
        control.msrpm_base_pa = msrpm;
        // `prepare_tlb` sets the ASID, on the CPU the guest enters on.
        control.nested_ctl = 0;
        control.virt_ext = 0;
        control.int_ctl = (control.int_ctl & INT_CTL_ALLOWED) | bindings::V_INTR_MASKING_MASK;
        control.clean = 0;
        Ok(())
    }
}
