// SPDX-License-Identifier: GPL-2.0

//! Rust misc device sample.
//!
//! `/dev/rust-misc-device` gives every open file its own 64-bit value and its own page:
//!
//! - `RUST_MISC_DEVICE_GET_VALUE` (`_IOR('|', 0x80, u64)`) copies the value to user space;
//! - `RUST_MISC_DEVICE_SET_VALUE` (`_IOW('|', 0x81, u64)`) reads it from user space;
//! - `RUST_MISC_DEVICE_OPEN_FILES` (`_IO('|', 0x82)`) returns how many files are open;
//! - `mmap()` of one page at offset 0 maps the file's page, shared by every mapping of the
//!   same open file, zero-filled at open.
//!
//! Every other command fails with `ENOTTY`.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use kernel::{
    c_str,
    fs::FileOperations,
    ioctl::{_IO, _IOR, _IOW},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    mm::VmArea,
    page::{Page, PAGE_SIZE},
    prelude::*,
    uaccess::UserSlice,
};

const RUST_MISC_DEVICE_GET_VALUE: u32 = _IOR::<u64>('|' as u32, 0x80);
const RUST_MISC_DEVICE_SET_VALUE: u32 = _IOW::<u64>('|' as u32, 0x81);
const RUST_MISC_DEVICE_OPEN_FILES: u32 = _IO('|' as u32, 0x82);

module! {
    type: RustMiscDeviceModule,
    name: "rust_misc_device",
    author: "Ferrite developers",
    description: "Rust misc device sample",
    license: "GPL",
}

/// Files of the device that are open now: `open` adds one, `release` takes it back.
static OPEN_FILES: AtomicUsize = AtomicUsize::new(0);

struct RustMiscDeviceModule {
    _registration: Pin<KBox<MiscDeviceRegistration<OpenFile>>>,
}

impl kernel::Module for RustMiscDeviceModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            mode: 0o666,
            ..MiscDeviceOptions::named(c_str!("rust-misc-device"))
        };
        let registration =
            KBox::pin_init(MiscDeviceRegistration::register(options, ()), GFP_KERNEL)?;
        pr_info!("registered with minor {}\n", registration.minor());
        Ok(Self {
            _registration: registration,
        })
    }
}

/// The state of one open file.
struct OpenFile {
    value: AtomicU64,
    page: Page,
}

impl MiscDevice for OpenFile {
    type RegistrationData = ();

    fn open(_device: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let file = KBox::new(
            OpenFile {
                value: AtomicU64::new(0),
                page: Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?,
            },
            GFP_KERNEL,
        )?;
        OPEN_FILES.fetch_add(1, Ordering::Relaxed);
        Ok(file)
    }
}

#[vtable]
impl FileOperations for OpenFile {
    type Ptr = KBox<Self>;
    const OWNER: &'static ThisModule = &THIS_MODULE;

    fn release(file: KBox<Self>) {
        OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
        drop(file);
    }

    fn ioctl(file: &Self, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            RUST_MISC_DEVICE_GET_VALUE => {
                let mut writer = UserSlice::new(arg, size_of::<u64>()).writer();
                writer.write(&file.value.load(Ordering::Relaxed))?;
                Ok(0)
            }
            RUST_MISC_DEVICE_SET_VALUE => {
                let mut reader = UserSlice::new(arg, size_of::<u64>()).reader();
                file.value.store(reader.read::<u64>()?, Ordering::Relaxed);
                Ok(0)
            }
            RUST_MISC_DEVICE_OPEN_FILES => Ok(OPEN_FILES.load(Ordering::Relaxed) as isize),
            _ => Err(ENOTTY),
        }
    }

    fn mmap(file: &Self, vma: &VmArea) -> Result {
        if vma.pgoff() != 0 || vma.len() != PAGE_SIZE {
            return Err(EINVAL);
        }
        vma.insert_page(vma.start(), &file.page)
    }
}
