// SPDX-License-Identifier: GPL-2.0

//! A virtual CPU: its registers and the pages it shares with user space.

use crate::{
    device::VCPU_MMAP_SIZE,
    user,
    vm::{Vm, MAX_VCPU_ID},
};
use kernel::{
    fmt,
    fs::{anon_inode, FileOperations},
    kvm::{self, ioctl},
    mm::VmArea,
    new_mutex,
    page::{Page, PAGE_SIZE},
    prelude::*,
    str::CString,
    sync::{Arc, ArcBorrow, Mutex},
};

/// A virtual CPU.
#[pin_data]
pub(crate) struct Vcpu {
    // Keeps the VM alive while the vCPU is; `KVM_RUN` will find the memory slots through it.
    #[allow(dead_code)]
    vm: Arc<Vm>,
    /// `struct kvm_run`, mapped by user space at offset 0 of the vCPU file.
    run: Page,
    /// The data of port I/O exits, mapped at the next page.
    pio: Page,
    #[pin]
    state: Mutex<VcpuState>,
}

/// The registers user space reads with `KVM_GET_REGS` and `KVM_GET_SREGS`.
struct VcpuState {
    regs: kvm::Regs,
    sregs: kvm::Sregs,
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
        let run = Page::alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO)?;
        let pio = Page::alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO)?;
        let vcpu = Arc::pin_init(
            pin_init!(Vcpu {
                vm,
                run,
                pio,
                state <- new_mutex!(VcpuState::reset()),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        let name = CString::try_from_fmt(fmt!("kvm-vcpu:{}", id))?;
        Ok(anon_inode::new_fd::<Vcpu>(&name, vcpu)? as isize)
    }

    fn set_regs(&self, regs: kvm::Regs) {
        // Bit 1 of RFLAGS always reads as one.
        self.state.lock().regs = kvm::Regs {
            rflags: regs.rflags | 2,
            ..regs
        };
    }
}

impl VcpuState {
    /// The state of a vCPU after reset, as KVM reports it on AMD: real mode, executing from
    /// `f000:fff0`.
    fn reset() -> Self {
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
            // CD | NW | ET.
            cr0: 0x6000_0010,
            ..Default::default()
        };
        let regs = kvm::Regs {
            rip: 0xfff0,
            rflags: 2,
            // The processor signature KVM reports before user space sets CPUID.
            rdx: 0x600,
            ..Default::default()
        };
        Self { regs, sregs }
    }
}

#[vtable]
impl FileOperations for Vcpu {
    type Ptr = Arc<Vcpu>;
    const OWNER: &'static ThisModule = &crate::THIS_MODULE;

    fn ioctl(vcpu: ArcBorrow<'_, Vcpu>, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            // Copy under the lock, touch user memory outside it.
            ioctl::GET_REGS => {
                let regs = vcpu.state.lock().regs;
                user::write(arg, &regs)
            }
            ioctl::SET_REGS => {
                vcpu.set_regs(user::read(arg)?);
                Ok(0)
            }
            ioctl::GET_SREGS => {
                let sregs = vcpu.state.lock().sregs;
                user::write(arg, &sregs)
            }
            ioctl::SET_SREGS => {
                let sregs = user::read(arg)?;
                vcpu.state.lock().sregs = sregs;
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
            vma.insert_page(vma.start() + i * PAGE_SIZE, page)?;
        }
        Ok(())
    }
}
