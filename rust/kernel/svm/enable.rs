// SPDX-License-Identifier: GPL-2.0

//! Turning SVM on and off on the CPUs, and entering guests.

use super::{page_phys, page_table::Root, run, Asids, GuestFpu, GuestRegs, TlbPlan, Vmcb};
use crate::{
    alloc::{flags::*, KVec},
    bindings,
    error::{code::*, Result},
    page::Page,
};
use core::{
    ffi::c_void,
    sync::atomic::{AtomicBool, Ordering},
};

const EFER_SVME: u64 = bindings::EFER_SVME as u64;

/// Whether this machine can run SVM guests: the CPU has SVM and the firmware left it enabled.
pub fn supported() -> bool {
    // SAFETY: `boot_cpu_has` reads the boot CPU's feature bits, set up long before modules load.
    if !unsafe { bindings::boot_cpu_has(bindings::X86_FEATURE_SVM as u16) } {
        return false;
    }
    // SAFETY: every CPU with SVM has `MSR_VM_CR`.
    let vm_cr = unsafe { bindings::rdmsrl(bindings::MSR_VM_CR) };
    vm_cr & bindings::SVM_VM_CR_SVM_DIS_MASK as u64 == 0
}

/// Set while an [`Svm`] exists: SVM has one owner at a time.
static OWNED: AtomicBool = AtomicBool::new(false);

/// What one CPU needs to run guests.
struct CpuState {
    /// The page `MSR_VM_HSAVE_PA` points at: where `VMRUN` saves the host state that
    /// `#VMEXIT` restores.
    hsave: Page,
    /// The rest of the host state (segment bases, system call MSRs...), which `VMRUN` leaves
    /// alone and the guest changes: kept here with `VMSAVE` while a guest runs.
    host_vmsave: Page,
    /// The ASIDs this CPU gives to the guests that run here.
    asids: Asids,
    /// Set when SVM could not be enabled here because somebody else had it.
    busy: AtomicBool,
}

/// SVM, enabled on every CPU for as long as this lives.
///
/// Creating one enables SVM on every online CPU (`EFER.SVME`, with a host save area of its
/// own); dropping it disables SVM again. A CPU that comes online later is enabled the first
/// time a guest runs there. There can be only one: while it exists, somebody else's attempt to
/// enable SVM (another `Svm`, or KVM) fails with `EBUSY`, and it fails itself with `EBUSY` if
/// somebody else has SVM enabled on any CPU.
///
/// # Invariants
///
/// `cpus` has one entry per possible CPU id. While `self` lives, `OWNED` is set, and
/// `EFER.SVME` is only set on a CPU whose `MSR_VM_HSAVE_PA` is its entry's `hsave` page.
pub struct Svm {
    cpus: KVec<CpuState>,
}

impl Svm {
    /// Enables SVM on every CPU; fails with `ENODEV` where SVM is missing or disabled by the
    /// firmware, and with `EBUSY` if somebody else already uses it.
    pub fn new() -> Result<Self> {
        if !supported() {
            return Err(ENODEV);
        }
        if OWNED.swap(true, Ordering::Acquire) {
            return Err(EBUSY);
        }
        let svm = Self::alloc().inspect_err(|_| OWNED.store(false, Ordering::Release))?;
        svm.on_each_cpu(Self::enable_this_cpu_ipi);
        if svm.cpus.iter().any(|cpu| cpu.busy.load(Ordering::Relaxed)) {
            // Dropping `svm` disables SVM again where it was enabled.
            return Err(EBUSY);
        }
        Ok(svm)
    }

    fn alloc() -> Result<Self> {
        // SAFETY: `nr_cpu_ids` is set during boot, before modules load, and never changes.
        let count = unsafe { bindings::nr_cpu_ids } as usize;
        // SAFETY: every CPU with SVM has the SVM leaf; `EBX` is its number of ASIDs, the
        // host's ASID 0 included.
        let max_asid = unsafe { bindings::cpuid_ebx(bindings::SVM_CPUID_FUNC) }.saturating_sub(1);
        // SAFETY: as in `supported`.
        let flush_by_asid =
            unsafe { bindings::boot_cpu_has(bindings::X86_FEATURE_FLUSHBYASID as u16) };
        let mut cpus = KVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            cpus.push(
                CpuState {
                    hsave: Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?,
                    host_vmsave: Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?,
                    asids: Asids::new(max_asid, flush_by_asid),
                    busy: AtomicBool::new(false),
                },
                GFP_KERNEL,
            )?;
        }
        // INVARIANT: one entry per possible CPU; no CPU has SVM enabled by us yet.
        Ok(Self { cpus })
    }

    /// Runs `func` on every online CPU with interrupts off, passing `self`, and waits for all.
    fn on_each_cpu(&self, func: unsafe extern "C" fn(*mut c_void)) {
        // SAFETY: `func` only reads `self` through the pointer, and `on_each_cpu` waits (the
        // last argument) until every CPU has run it, so `self` outlives every call.
        unsafe { bindings::on_each_cpu(Some(func), self as *const Self as *mut c_void, 1) };
    }

    /// The current CPU's state.
    ///
    /// # Safety
    ///
    /// Interrupts must be disabled, so that the caller stays on this CPU.
    unsafe fn this_cpu(&self) -> &CpuState {
        // SAFETY: the caller keeps us on this CPU.
        let id = unsafe { bindings::raw_smp_processor_id() } as usize;
        // By the type invariant, every CPU id has an entry.
        &self.cpus[id]
    }

    /// Enables SVM on the current CPU unless somebody else has; returns whether SVM is ours
    /// here.
    ///
    /// # Safety
    ///
    /// Interrupts must be disabled.
    unsafe fn enable_this_cpu(&self) -> bool {
        // SAFETY: the caller disabled interrupts.
        let cpu = unsafe { self.this_cpu() };
        let hsave = page_phys(&cpu.hsave);
        // SAFETY: reading `EFER` has no side effects.
        let efer = unsafe { bindings::rdmsrl(bindings::MSR_EFER) };
        if efer & EFER_SVME != 0 {
            // SAFETY: `MSR_VM_HSAVE_PA` exists where SVM does, and reading it has no effects.
            return unsafe { bindings::rdmsrl(bindings::MSR_VM_HSAVE_PA) } == hsave;
        }
        // INVARIANT: SVM gets enabled with our save area.
        // SAFETY: the page is ours for as long as SVM may be enabled with it (until `drop`),
        // and setting `EFER.SVME` only makes the SVM instructions available.
        unsafe {
            bindings::wrmsrl(bindings::MSR_VM_HSAVE_PA, hsave);
            bindings::wrmsrl(bindings::MSR_EFER, efer | EFER_SVME);
        }
        // Whoever had SVM here before may have left entries under any ASID.
        cpu.asids.reset();
        true
    }

    /// # Safety
    ///
    /// Called by `on_each_cpu` with `info` pointing at a live `Svm`.
    unsafe extern "C" fn enable_this_cpu_ipi(info: *mut c_void) {
        // SAFETY: `on_each_cpu` passes the pointer given by `Svm::on_each_cpu`, to a live `Svm`.
        let svm = unsafe { &*(info as *const Self) };
        // SAFETY: IPI functions run with interrupts disabled.
        if !unsafe { svm.enable_this_cpu() } {
            // SAFETY: as above.
            unsafe { svm.this_cpu() }
                .busy
                .store(true, Ordering::Relaxed);
        }
    }

    /// # Safety
    ///
    /// Called by `on_each_cpu` with `info` pointing at a live `Svm`.
    unsafe extern "C" fn disable_this_cpu_ipi(info: *mut c_void) {
        // SAFETY: `on_each_cpu` passes the pointer given by `Svm::on_each_cpu`, to a live `Svm`.
        let svm = unsafe { &*(info as *const Self) };
        // SAFETY: IPI functions run with interrupts disabled.
        let cpu = unsafe { svm.this_cpu() };
        // SAFETY: reading these MSRs has no side effects; `MSR_VM_HSAVE_PA` is only read where
        // `EFER.SVME` says SVM exists.
        unsafe {
            let efer = bindings::rdmsrl(bindings::MSR_EFER);
            if efer & EFER_SVME != 0
                && bindings::rdmsrl(bindings::MSR_VM_HSAVE_PA) == page_phys(&cpu.hsave)
            {
                bindings::wrmsrl(bindings::MSR_EFER, efer & !EFER_SVME);
                bindings::wrmsrl(bindings::MSR_VM_HSAVE_PA, 0);
            }
        }
    }

    /// Runs the guest of `vmcb` on the current CPU until its next `#VMEXIT`, with the
    /// general-purpose registers `regs` (those the VMCB does not hold), the x87/SSE state
    /// `fpu`, and the page tables of `root`.
    ///
    /// The guest always runs paged, on `root`: this forces `CR0.PG` and `CR4.PAE` in the
    /// VMCB, and sets `CR3` to `root`, whose kind must match the guest's `EFER.LME` (`EINVAL`
    /// otherwise). It also forces the intercepts that keep the guest inside what it was given
    /// (port and MSR accesses, control register writes, task switches, the SVM instructions,
    /// shutdown). It chooses the guest's ASID and what to flush of the TLB by the rules of
    /// [`super::GuestTlb`], and returns what it chose. On return, the exit code and
    /// information are in the VMCB.
    ///
    /// Fails with `EBUSY` if somebody else has SVM enabled on this CPU.
    pub fn run(
        &self,
        vmcb: &mut Vmcb,
        root: &mut Root,
        regs: &mut GuestRegs,
        fpu: &mut GuestFpu,
    ) -> Result<TlbPlan> {
        vmcb.prepare_run(root)?;
        // SAFETY: the FPU registers belong to the current task's user space; this saves them
        // to be restored on the way back to user space, so that the guest's may be loaded.
        unsafe { bindings::kernel_fpu_begin_mask(0) };
        // SAFETY: enabled again below, with nothing in between that could sleep.
        unsafe { bindings::local_irq_disable() };
        // SAFETY: interrupts are off.
        let result = if unsafe { self.enable_this_cpu() } {
            // SAFETY: interrupts are off.
            let cpu = unsafe { self.this_cpu() };
            // Interrupts stay off until the exit: `cpu` is the CPU the guest enters on.
            let entry = vmcb.prepare_tlb(&cpu.asids, root.stamp());
            // SAFETY: SVM is enabled here with our host save area; `host_vmsave` is ours;
            // `prepare_run` made the VMCB confine the guest to `root`, whose pages live at
            // least as long as this call, and `prepare_tlb` to translations `root` has now;
            // interrupts are off and the FPU is ours.
            unsafe { run::vmrun(vmcb.phys_addr(), page_phys(&cpu.host_vmsave), regs, fpu) };
            Ok(entry)
        } else {
            Err(EBUSY)
        };
        // SAFETY: disabled above.
        unsafe { bindings::local_irq_enable() };
        // SAFETY: paired with `kernel_fpu_begin_mask` above.
        unsafe { bindings::kernel_fpu_end() };
        result
    }
}

impl Drop for Svm {
    fn drop(&mut self) {
        self.on_each_cpu(Self::disable_this_cpu_ipi);
        OWNED.store(false, Ordering::Release);
    }
}
