// SPDX-License-Identifier: GPL-2.0

//! Miscellaneous character devices.
//!
//! A misc device is a character device with major number 10 and a minor number of its own,
//! registered with a name under which it appears in `/dev`. A driver implements [`MiscDevice`]
//! to say what happens when the device is opened, controlled through `ioctl()`, mapped with
//! `mmap()` and finally released, and keeps a [`MiscDeviceRegistration`] alive for as long as
//! the device should exist.
//!
//! Each open file owns one value of [`MiscDevice::Ptr`], created by [`MiscDevice::open`] and
//! handed back to [`MiscDevice::release`] on the last close; every other operation borrows it.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)

use crate::{
    bindings, build_error, container_of,
    error::{from_result, to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_long, c_uint, c_ulong},
    init,
    mm::VmArea,
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
    ThisModule,
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// Where a misc device gets its minor number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Minor {
    /// Any free minor, chosen at registration.
    Dynamic,
    /// This minor, below 255 (such as 232 for `/dev/kvm`); registration fails with `EBUSY` if
    /// it is taken.
    Fixed(u8),
}

/// What a misc device is registered as.
#[derive(Clone, Copy, Debug)]
pub struct MiscDeviceOptions {
    /// The name of the device node, `/dev/<name>`.
    pub name: &'static CStr,
    /// The minor number.
    pub minor: Minor,
    /// The permissions of the device node; 0 keeps the default (0600).
    pub mode: u16,
}

impl MiscDeviceOptions {
    /// Options for a device called `name` with a dynamic minor and the default mode.
    pub const fn named(name: &'static CStr) -> Self {
        Self {
            name,
            minor: Minor::Dynamic,
            mode: 0,
        }
    }
}

/// The operations of a misc device.
///
/// Every operation but [`open`](MiscDevice::open) is optional: a device that does not implement
/// `ioctl` answers every command with `ENOTTY`, and one without `mmap` refuses mappings with
/// `ENODEV`, as the VFS does for a missing file operation.
#[vtable]
pub trait MiscDevice: Sized {
    /// What each open file keeps: usually a [`KBox<Self>`] or an [`Arc<Self>`].
    ///
    /// It is shared by all threads that use the file, hence `Send` and `Sync`.
    ///
    /// [`Arc<Self>`]: crate::sync::Arc
    type Ptr: ForeignOwnable + Send + Sync;

    /// The module that implements the device, normally `&THIS_MODULE`.
    ///
    /// Open files hold a reference to it, so the module cannot be unloaded while user space
    /// still uses the device.
    const OWNER: &'static ThisModule;

    /// Called when the device is opened; the returned value belongs to the new open file.
    fn open(device: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr>;

    /// Called on the last close of an open file, with the value [`open`](Self::open) returned.
    fn release(device: Self::Ptr) {
        drop(device);
    }

    /// Handles `ioctl(fd, cmd, arg)`; the returned value is `ioctl()`'s result.
    ///
    /// `arg` is passed as user space gave it: a number, or a user pointer to read or write
    /// through [`UserSlice`](crate::uaccess::UserSlice).
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles `ioctl()` from a 32-bit process on a 64-bit kernel.
    ///
    /// Devices that implement only [`ioctl`](Self::ioctl) get `compat_ptr_ioctl()`, which
    /// converts `arg` as a pointer and calls [`ioctl`](Self::ioctl).
    fn compat_ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles `mmap()`: fills or checks the new area before user space can touch it.
    fn mmap(_device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>, _vma: &VmArea) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A registered misc device; dropping it removes the device.
///
/// Files opened before the registration is dropped stay usable: the file operations are static
/// and name [`MiscDevice::OWNER`] as their owner, so the module stays loaded while they are open.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, miscdevice::*, prelude::*, ThisModule};
///
/// struct Nothing;
///
/// // SAFETY: doctests are built into the kernel, whose `THIS_MODULE` is null.
/// static BUILT_IN: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
///
/// #[vtable]
/// impl MiscDevice for Nothing {
///     type Ptr = KBox<Self>;
///     const OWNER: &'static ThisModule = &BUILT_IN;
///
///     fn open(_device: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
///         Ok(KBox::new(Nothing, GFP_KERNEL)?)
///     }
/// }
///
/// let register = |options: MiscDeviceOptions| {
///     KBox::pin_init(MiscDeviceRegistration::<Nothing>::register(options), GFP_KERNEL)
/// };
///
/// // Dynamic minors are handed out above the fixed range.
/// let dynamic = register(MiscDeviceOptions::named(c_str!("rust-doctest-misc")))?;
/// assert!(dynamic.minor() > 255);
///
/// // A fixed minor can only be registered once (245 is unassigned in miscdevice.h).
/// let mut a = MiscDeviceOptions::named(c_str!("rust-doctest-a"));
/// a.minor = Minor::Fixed(245);
/// let b = MiscDeviceOptions { name: c_str!("rust-doctest-b"), ..a };
/// let first = register(a)?;
/// assert_eq!(first.minor(), 245);
/// assert_eq!(register(b).err(), Some(EBUSY));
///
/// // Dropping a registration frees its minor.
/// drop(first);
/// assert_eq!(register(b)?.minor(), 245);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `inner` is registered with the misc core (`misc_register()` succeeded), with the file
/// operations of `T`.
pub struct MiscDeviceRegistration<T: MiscDevice> {
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: the misc core lets any thread register, use and deregister a device, and the
// registration holds no `T`.
unsafe impl<T: MiscDevice> Send for MiscDeviceRegistration<T> {}

// SAFETY: shared references only read the registration, which the misc core does too,
// concurrently, under its own locking.
unsafe impl<T: MiscDevice> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device.
    ///
    /// Fails with `EBUSY` when a fixed minor is taken.
    pub fn register(options: MiscDeviceOptions) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes, and an `Opaque` may be written through its raw
            // pointer before it is initialised.
            let misc = unsafe { Opaque::raw_get(core::ptr::addr_of!((*slot).inner)) };
            // SAFETY: an all-zero `miscdevice` is a valid, unregistered one.
            let mut raw: bindings::miscdevice = unsafe { MaybeUninit::zeroed().assume_init() };
            raw.minor = match options.minor {
                Minor::Dynamic => bindings::MISC_DYNAMIC_MINOR as c_int,
                Minor::Fixed(minor) => minor.into(),
            };
            raw.name = options.name.as_char_ptr();
            raw.mode = options.mode;
            raw.fops = &FileOperations::<T>::VTABLE;
            // SAFETY: `misc` is valid for writes and pinned with `slot`.
            unsafe { misc.write(raw) };
            // SAFETY: `misc` is initialised and stays pinned until `drop` deregisters it; its
            // name and file operations are `'static`.
            to_result(unsafe { bindings::misc_register(misc) })
            // INVARIANT: on success `inner` is registered.
        };
        // SAFETY: on success `init` initialised `inner`, the only field that is not a ZST; on
        // failure nothing needs dropping. The closure never moves `*slot`.
        unsafe { init::pin_init_from_closure(init) }
    }

    /// The minor number the device was given.
    pub fn minor(&self) -> i32 {
        // SAFETY: `inner` is registered, and the misc core does not change `minor` afterwards.
        unsafe { (*self.inner.get()).minor }
    }

    /// Finds the registration behind a `miscdevice` pointer.
    ///
    /// # Safety
    ///
    /// `misc` must be the `inner` field of a live `MiscDeviceRegistration<T>`.
    unsafe fn from_raw<'a>(misc: *mut bindings::miscdevice) -> &'a Self {
        // SAFETY: the caller guarantees `misc` is the `inner` field of a live registration,
        // so stepping back to the containing struct stays inside it.
        unsafe { &*container_of!(misc, Self, inner) }
    }
}

impl<T: MiscDevice> Drop for MiscDeviceRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `inner` is registered.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// The file operations of `T` devices.
struct FileOperations<T>(PhantomData<T>);

impl<T: MiscDevice> FileOperations<T> {
    /// Static, so that files outlive a dropped registration safely.
    const VTABLE: bindings::file_operations = bindings::file_operations {
        owner: T::OWNER.as_ptr(),
        open: Some(fops_open::<T>),
        release: Some(fops_release::<T>),
        unlocked_ioctl: if T::HAS_IOCTL {
            Some(fops_ioctl::<T>)
        } else {
            None
        },
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: if T::HAS_COMPAT_IOCTL {
            Some(fops_compat_ioctl::<T>)
        } else if T::HAS_IOCTL {
            Some(bindings::compat_ptr_ioctl)
        } else {
            None
        },
        mmap: if T::HAS_MMAP {
            Some(fops_mmap::<T>)
        } else {
            None
        },
        // SAFETY: all-zero is a valid `file_operations`: every other operation absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// # Safety
///
/// Called by the VFS through `misc_open()`, which set `file->private_data` to the device's
/// `miscdevice`, the `inner` field of a live `MiscDeviceRegistration<T>`.
unsafe extern "C" fn fops_open<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        // SAFETY: `misc_open()` stored the `miscdevice` in `private_data`; the registration
        // outlives the open call because deregistration takes the same misc lock.
        let device = unsafe { MiscDeviceRegistration::<T>::from_raw((*file).private_data.cast()) };
        let ptr = T::open(device)?;
        // SAFETY: `file` is valid and being opened: nobody else uses `private_data` yet.
        unsafe { (*file).private_data = ptr.into_foreign().cast_mut() };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS on the last close of a file that [`fops_open`] opened successfully.
unsafe extern "C" fn fops_release<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` holds what `fops_open` converted with `into_foreign`, and this is
    // the last use of the file, so no borrow of it remains.
    let device = unsafe { T::Ptr::from_foreign((*file).private_data) };
    T::release(device);
    0
}

/// # Safety
///
/// Called by the VFS on a file that [`fops_open`] opened successfully and that is not yet
/// released.
unsafe extern "C" fn fops_ioctl<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: `private_data` came from `into_foreign` in `fops_open`, and `release` cannot run
    // while this call holds a file reference.
    let device = unsafe { T::Ptr::borrow((*file).private_data) };
    from_result(|| Ok(T::ioctl(device, cmd, arg)? as c_long))
}

/// # Safety
///
/// As for [`fops_ioctl`].
#[cfg(CONFIG_COMPAT)]
unsafe extern "C" fn fops_compat_ioctl<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: as in `fops_ioctl`.
    let device = unsafe { T::Ptr::borrow((*file).private_data) };
    from_result(|| Ok(T::compat_ioctl(device, cmd, arg)? as c_long))
}

/// # Safety
///
/// Called by the VFS with the `mmap_lock` of `vma`'s address space held for writing, on a file
/// that [`fops_open`] opened successfully and that is not yet released.
unsafe extern "C" fn fops_mmap<T: MiscDevice>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: as in `fops_ioctl`.
    let device = unsafe { T::Ptr::borrow((*file).private_data) };
    // SAFETY: the VFS holds the `mmap_lock` for writing during the whole call.
    let vma = unsafe { VmArea::from_raw(vma) };
    from_result(|| {
        T::mmap(device, vma)?;
        Ok(0)
    })
}
