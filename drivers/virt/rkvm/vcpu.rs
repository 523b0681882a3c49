// SPDX-License-Identifier: GPL-2.0

//! A virtual CPU: its file, the pages it shares with user space, and `KVM_RUN`.

use crate::{
    cpuid::Cpuid,
    device::VCPU_MMAP_SIZE,
    mmu::Mmu,
    registers::Registers,
    run::VcpuState,
    stats::Stat,
    user,
    vm::{Vm, MAX_VCPU_ID},
};
use kernel::{
    current, fmt,
    fs::{anon_inode, FileOperations},
    kvm::{self, ioctl, run},
    mm::{SharedPage, VmArea},
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sched,
    str::CString,
    sync::{Arc, ArcBorrow, Mutex},
};

/// A virtual CPU.
#[pin_data]
pub(crate) struct Vcpu {
    /// The VM, kept alive while the vCPU is, even after its file is closed.
    vm: Arc<Vm>,
    /// `struct kvm_run`, mapped by user space at offset 0 of the vCPU file.
    run: SharedPage,
    /// The data of port I/O exits, mapped at the next page.
    pio: SharedPage,
    /// Held while the vCPU runs, as KVM holds `vcpu->mutex`.
    #[pin]
    state: Mutex<VcpuState>,
}

impl Vcpu {
    /// Answers `KVM_CREATE_VCPU`: vCPU `id` of `vm`, as a new file descriptor.
    pub(crate) fn create(vm: Arc<Vm>, id: usize) -> Result<isize> {
        if id >= MAX_VCPU_ID {
            return Err(EINVAL);
        }
        vm.reserve_vcpu_id(id)?;
        Self::new_fd(vm.clone(), id).inspect_err(|_| vm.release_vcpu_id(id))
    }

    fn new_fd(vm: Arc<Vm>, id: usize) -> Result<isize> {
        let state = VcpuState {
            regs: Registers::new(vm.host.maps.clone())?,
            mmu: Mmu::new()?,
            stats: vm.stats.clone(),
            ran: false,
            pending: None,
        };
        let run = SharedPage::new(GFP_KERNEL_ACCOUNT)?;
        let pio = SharedPage::new(GFP_KERNEL_ACCOUNT)?;
        let vcpu = Arc::pin_init(
            pin_init!(Vcpu {
                vm,
                run,
                pio,
                state <- new_mutex!(state),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        let name = CString::try_from_fmt(fmt!("kvm-vcpu:{}", id))?;
        Ok(anon_inode::new_fd::<Vcpu>(&name, vcpu)? as isize)
    }

    /// `KVM_RUN`: runs the guest until an exit user space must handle (0, with the exit in
    /// `kvm_run`), or until a signal is pending (`EINTR`, exit reason `KVM_EXIT_INTR`).
    fn run(&self) -> Result<isize> {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        state.complete(&self.vm, &self.run, &self.pio)?;
        let immediate: u8 = self.run.read(run::IMMEDIATE_EXIT)?;
        if immediate != 0 {
            state.report_reason(&self.run, kvm::exit::INTR)?;
            return Err(EINTR);
        }
        loop {
            if current!().signal_pending() {
                state.stats.inc(Stat::SignalExits);
                state.report_reason(&self.run, kvm::exit::INTR)?;
                return Err(EINTR);
            }
            sched::cond_resched();
            if let Some(exit) = state.enter(&self.vm, &self.pio)? {
                state.report(&self.run, exit)?;
                return Ok(0);
            }
        }
    }
}

#[vtable]
impl FileOperations for Vcpu {
    type Ptr = Arc<Vcpu>;
    const OWNER: &'static ThisModule = &crate::THIS_MODULE;

    fn ioctl(vcpu: ArcBorrow<'_, Vcpu>, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            ioctl::RUN if arg == 0 => vcpu.run(),
            ioctl::RUN => Err(EINVAL),
            // Copy under the lock, touch user memory outside it.
            ioctl::GET_REGS => {
                let regs = vcpu.state.lock().regs.regs();
                user::write(arg, &regs)
            }
            ioctl::SET_REGS => {
                let regs: kvm::Regs = user::read(arg)?;
                vcpu.state.lock().regs.set_regs(&regs);
                Ok(0)
            }
            ioctl::GET_SREGS => {
                let sregs = vcpu.state.lock().regs.sregs();
                user::write(arg, &sregs)
            }
            ioctl::SET_SREGS => {
                let sregs: kvm::Sregs = user::read(arg)?;
                let mut state = vcpu.state.lock();
                state.regs.set_sregs(&sregs)?;
                // The guest's paging may have changed under the shadow tables.
                state.drop_translations();
                Ok(0)
            }
            ioctl::SET_CPUID2 => {
                let cpuid = Cpuid::from_user(arg)?;
                let mut state = vcpu.state.lock();
                // After the first run, KVM only accepts the table it has.
                if state.ran && !cpuid.same_as(&state.regs.cpuid) {
                    return Err(EINVAL);
                }
                state.regs.cpuid = cpuid;
                Ok(0)
            }
            // KVM answers unknown vCPU commands with EINVAL.
            _ => Err(EINVAL),
        }
    }

    fn mmap(vcpu: ArcBorrow<'_, Vcpu>, vma: &VmArea) -> Result {
        let first = vma.pgoff();
        let pages = vma.len() / PAGE_SIZE;
        if first
            .checked_add(pages)
            .is_none_or(|end| end > VCPU_MMAP_SIZE / PAGE_SIZE)
        {
            return Err(EINVAL);
        }
        for i in 0..pages {
            let page = if first + i == 0 { &vcpu.run } else { &vcpu.pio };
            vma.insert_page(vma.start() + i * PAGE_SIZE, page.page())?;
        }
        Ok(())
    }
}
