// SPDX-License-Identifier: GPL-2.0

//! What every VM shares: SVM, enabled on all CPUs while any VM exists, and the permission
//! maps that send every guest port and MSR access to rkvm.
//!
//! As KVM does, rkvm turns SVM on when the first VM is created and off when the last one is
//! gone. Only one hypervisor can own SVM: while KVM's `kvm_amd` has it (it takes it when it
//! loads), creating a VM on rkvm fails with `EBUSY`, and while rkvm VMs exist, `kvm_amd`
//! cannot load.

use kernel::{
    c_str,
    debugfs::Dir,
    new_mutex,
    prelude::*,
    svm::{PermissionMaps, Svm},
    sync::{Arc, Mutex},
};

/// The host side of virtualization.
#[pin_data]
pub(crate) struct Host {
    pub(crate) maps: Arc<PermissionMaps>,
    /// `/sys/kernel/debug/rkvm`, with a directory of counters per VM.
    pub(crate) debugfs: Dir,
    #[pin]
    svm: Mutex<SvmUsers>,
}

/// SVM and the number of VMs using it.
struct SvmUsers {
    svm: Option<Arc<Svm>>,
    vms: usize,
}

impl Host {
    pub(crate) fn new() -> Result<Arc<Self>> {
        let maps = Arc::new(PermissionMaps::new()?, GFP_KERNEL)?;
        Arc::pin_init(
            pin_init!(Host {
                maps,
                debugfs: Dir::new(c_str!("rkvm"), None),
                svm <- new_mutex!(SvmUsers { svm: None, vms: 0 }),
            }),
            GFP_KERNEL,
        )
    }

    /// SVM for one more VM, enabled on every CPU if no VM had it; `EBUSY` if another
    /// hypervisor has it, `ENODEV` without SVM. Paired with [`Host::put_svm`].
    pub(crate) fn get_svm(&self) -> Result<Arc<Svm>> {
        let mut users = self.svm.lock();
        let svm = match &users.svm {
            Some(svm) => svm.clone(),
            None => {
                let svm = Arc::new(
                    Svm::new().inspect_err(|&e| {
                        if e == EBUSY {
                            pr_err!("SVM is in use by another hypervisor (kvm_amd?)\n");
                        }
                    })?,
                    GFP_KERNEL,
                )?;
                users.svm = Some(svm.clone());
                svm
            }
        };
        users.vms += 1;
        Ok(svm)
    }

    /// A VM is done with SVM; the last one lets it be disabled (once its reference is gone).
    pub(crate) fn put_svm(&self) {
        let mut users = self.svm.lock();
        users.vms -= 1;
        if users.vms == 0 {
            users.svm = None;
        }
    }
}
