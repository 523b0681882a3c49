// SPDX-License-Identifier: GPL-2.0

//! A virtual machine: its memory slots and the ids of its vCPUs.

use crate::{
    device::check_extension,
    host::Host,
    memslot::MemSlots,
    stats::{self, Stats},
    user,
    vcpu::Vcpu,
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    c_str, current,
    debugfs::CounterDir,
    fmt,
    fs::{anon_inode, FileOperations},
    kvm::{self, ioctl},
    new_mutex,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    str::CString,
    svm::Svm,
    sync::{Arc, ArcBorrow, Mutex},
    uaccess::UserSlice,
};

/// vCPUs per VM, as `KVM_CAP_MAX_VCPUS` reports.
pub(crate) const MAX_VCPUS: usize = 64;

/// One more than the largest vCPU id, as `KVM_CAP_MAX_VCPU_ID` reports.
pub(crate) const MAX_VCPU_ID: usize = 1024;

/// The highest TSS address `KVM_SET_TSS_ADDR` accepts: the TSS takes three pages below 4 GiB.
const MAX_TSS_ADDR: usize = 0xffff_d000;

/// A virtual machine.
#[pin_data(PinnedDrop)]
pub(crate) struct Vm {
    pub(crate) host: Arc<Host>,
    /// SVM, enabled for as long as a VM holds it.
    pub(crate) svm: Arc<Svm>,
    /// Bumped by every change of the memory slots: vCPUs then drop their mappings.
    slots_generation: AtomicU64,
    /// The counters of all its vCPUs.
    pub(crate) stats: Stats,
    /// The counters' debugfs directory, `<pid>-<fd>`, once the VM has its file descriptor.
    #[pin]
    debugfs: Mutex<Option<CounterDir<{ stats::COUNT }>>>,
    #[pin]
    state: Mutex<VmState>,
}

struct VmState {
    slots: MemSlots,
    /// The vCPU ids taken so far, one bit each; like KVM, an id stays taken for the VM's life.
    vcpu_ids: [u64; MAX_VCPU_ID / 64],
    vcpus: usize,
}

impl Vm {
    /// Answers `KVM_CREATE_VM`: a new VM of type `vm_type`, as a new file descriptor.
    pub(crate) fn create(host: Arc<Host>, vm_type: usize) -> Result<isize> {
        // Only KVM's default x86 VM type.
        if vm_type != 0 {
            return Err(EINVAL);
        }
        let stats = Stats::new()?;
        let svm = host.get_svm()?;
        let vm_host = host.clone();
        let init = pin_init!(Vm {
            host: vm_host,
            svm,
            slots_generation: AtomicU64::new(0),
            stats,
            debugfs <- new_mutex!(None),
            state <- new_mutex!(VmState {
                slots: MemSlots::new(),
                vcpu_ids: [0; MAX_VCPU_ID / 64],
                vcpus: 0,
            }),
        });
        // Once made, the VM gives SVM back when dropped.
        let vm = Arc::pin_init(init, GFP_KERNEL).inspect_err(|_| host.put_svm())?;
        let fd = anon_inode::new_fd::<Vm>(c_str!("kvm-vm"), vm.clone())?;
        // Named as KVM names its own: after the creating thread and the file descriptor. The
        // file descriptor is the process's now: without memory for a name, no directory.
        if let Ok(name) = CString::try_from_fmt(fmt!("{}-{}", current!().pid(), fd)) {
            let dir = CounterDir::new(&vm.host.debugfs, &name, stats::NAMES, vm.stats.counters());
            *vm.debugfs.lock() = Some(dir);
        }
        Ok(fd as isize)
    }

    /// Takes vCPU id `id` (below [`MAX_VCPU_ID`]) for a new vCPU, with KVM's errors.
    pub(crate) fn reserve_vcpu_id(&self, id: usize) -> Result {
        let mut state = self.state.lock();
        if state.vcpus >= MAX_VCPUS {
            return Err(EINVAL);
        }
        let (word, bit) = (id / 64, 1u64 << (id % 64));
        if state.vcpu_ids[word] & bit != 0 {
            return Err(EEXIST);
        }
        state.vcpu_ids[word] |= bit;
        state.vcpus += 1;
        Ok(())
    }

    /// Gives back an id taken by [`Vm::reserve_vcpu_id`] for a vCPU that could not be created.
    pub(crate) fn release_vcpu_id(&self, id: usize) {
        let mut state = self.state.lock();
        state.vcpu_ids[id / 64] &= !(1u64 << (id % 64));
        state.vcpus -= 1;
    }

    fn set_user_memory_region(&self, region: kvm::UserspaceMemoryRegion) -> Result<isize> {
        let mut state = self.state.lock();
        state.slots.set(&region)?;
        self.slots_generation.fetch_add(1, Ordering::Release);
        Ok(0)
    }

    /// The generation of the memory slots: it changes whenever they do.
    pub(crate) fn slots_generation(&self) -> u64 {
        self.slots_generation.load(Ordering::Acquire)
    }

    /// The VMM address backing guest frame `gfn`, if a memory slot holds it.
    pub(crate) fn hva(&self, gfn: u64) -> Option<u64> {
        self.state.lock().slots.hva(gfn)
    }

    /// Reads guest physical memory at `gpa` into `buf`; `EFAULT` where no slot (or no VMM
    /// memory) backs it.
    pub(crate) fn read_guest(&self, gpa: u64, buf: &mut [u8]) -> Result {
        self.access_guest(gpa, buf.len(), |hva, range| {
            UserSlice::new(hva as usize, range.len())
                .reader()
                .read_slice(&mut buf[range])
        })
    }

    /// Writes `buf` to guest physical memory at `gpa`; `EFAULT` where nothing backs it.
    pub(crate) fn write_guest(&self, gpa: u64, buf: &[u8]) -> Result {
        self.access_guest(gpa, buf.len(), |hva, range| {
            UserSlice::new(hva as usize, range.len())
                .writer()
                .write_slice(&buf[range])
        })
    }

    /// Calls `access` with the VMM address and buffer range of each page-sized piece of
    /// `len` bytes of guest memory at `gpa`.
    fn access_guest(
        &self,
        gpa: u64,
        len: usize,
        mut access: impl FnMut(u64, core::ops::Range<usize>) -> Result,
    ) -> Result {
        let mut done = 0;
        while done < len {
            let addr = gpa.wrapping_add(done as u64);
            let offset = (addr as usize) & (PAGE_SIZE - 1);
            let chunk = (PAGE_SIZE - offset).min(len - done);
            let hva = self.hva(addr >> PAGE_SHIFT).ok_or(EFAULT)?;
            access(hva + offset as u64, done..done + chunk)?;
            done += chunk;
        }
        Ok(())
    }
}

#[pinned_drop]
impl PinnedDrop for Vm {
    fn drop(self: Pin<&mut Self>) {
        // Before the host, whose directory holds it, can go.
        drop(self.debugfs.lock().take());
        self.host.put_svm();
    }
}

#[vtable]
impl FileOperations for Vm {
    type Ptr = Arc<Vm>;
    const OWNER: &'static ThisModule = &crate::THIS_MODULE;

    fn ioctl(vm: ArcBorrow<'_, Vm>, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            ioctl::CHECK_EXTENSION => Ok(check_extension(arg)),
            ioctl::SET_USER_MEMORY_REGION => vm.set_user_memory_region(user::read(arg)?),
            // SVM needs no TSS for real mode; accept any address KVM accepts.
            ioctl::SET_TSS_ADDR if arg <= MAX_TSS_ADDR => Ok(0),
            ioctl::SET_TSS_ADDR => Err(EINVAL),
            ioctl::CREATE_VCPU => Vcpu::create(vm.into(), arg),
            // KVM answers unknown VM commands with ENOTTY.
            _ => Err(ENOTTY),
        }
    }
}
