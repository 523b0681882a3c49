// SPDX-License-Identifier: GPL-2.0

//! Miscellaneous character devices.
//!
//! A misc device is a character device with major number 10 and a minor number of its own,
//! registered with a name under which it appears in `/dev`. A driver implements
//! [`FileOperations`] to say what its open files do (`ioctl()`, `mmap()`, release) and
//! [`MiscDevice`] to say how a file is opened, and keeps a [`MiscDeviceRegistration`] alive for as
//! long as the device should exist.
//!
//! Each open file owns the value of [`FileOperations::Ptr`] that [`MiscDevice::open`] created, and
//! hands it back to [`FileOperations::release`] on the last close; every other operation borrows
//! it.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)

use crate::{
    bindings, container_of,
    error::{from_result, to_result, Error, Result},
    ffi::c_int,
    fs::{FileOperations, Vtable},
    init,
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// Where a misc device gets its minor number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Minor {
    /// Any free minor, chosen at registration.
    Dynamic,
    /// This minor, below 255 (such as 232 for `/dev/kvm`); registration fails with `EBUSY` if
    /// it is taken, and with `EINVAL` for 255, which means "dynamic" to the misc core.
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

/// How a misc device opens files; what the files do is [`FileOperations`].
pub trait MiscDevice: FileOperations {
    /// What the registration keeps for its files to share: [`MiscDeviceRegistration::data`].
    type RegistrationData: Send + Sync;

    /// Called when the device is opened; the returned value belongs to the new open file.
    fn open(device: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr>;
}

/// A registered misc device; dropping it removes the device.
///
/// Files opened before the registration is dropped stay usable: the file operations are static
/// and name [`FileOperations::OWNER`] as their owner, so the module stays loaded while they are
/// open.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, fs::FileOperations, miscdevice::*, prelude::*, ThisModule};
///
/// struct Nothing;
///
/// // SAFETY: doctests are built into the kernel, whose `THIS_MODULE` is null.
/// static BUILT_IN: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
///
/// #[vtable]
/// impl FileOperations for Nothing {
///     type Ptr = KBox<Self>;
///     const OWNER: &'static ThisModule = &BUILT_IN;
/// }
///
/// impl MiscDevice for Nothing {
///     type RegistrationData = ();
///
///     fn open(_device: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
///         Ok(KBox::new(Nothing, GFP_KERNEL)?)
///     }
/// }
///
/// let register = |options: MiscDeviceOptions| {
///     KBox::pin_init(MiscDeviceRegistration::<Nothing>::register(options, ()), GFP_KERNEL)
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
/// // 255 is not a fixed minor.
/// let c = MiscDeviceOptions { name: c_str!("rust-doctest-c"), minor: Minor::Fixed(255), ..a };
/// assert_eq!(register(c).err(), Some(EINVAL));
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
/// operations of `T`; `data` is initialised.
pub struct MiscDeviceRegistration<T: MiscDevice> {
    inner: Opaque<bindings::miscdevice>,
    data: T::RegistrationData,
    _t: PhantomData<T>,
}

// SAFETY: the misc core lets any thread register, use and deregister a device, the
// registration holds no `T`, and `T::RegistrationData` is `Send`.
unsafe impl<T: MiscDevice> Send for MiscDeviceRegistration<T> {}

// SAFETY: shared references only read the registration, which the misc core does too,
// concurrently, under its own locking, and `T::RegistrationData` is `Sync`.
unsafe impl<T: MiscDevice> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device, whose files share `data`.
    ///
    /// Fails with `EBUSY` when a fixed minor is taken, `EINVAL` for fixed minor 255.
    pub fn register(
        options: MiscDeviceOptions,
        data: T::RegistrationData,
    ) -> impl PinInit<Self, Error> {
        let data_in = data;
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes, and an `Opaque` may be written through its raw
            // pointer before it is initialised.
            let misc = unsafe { Opaque::raw_get(core::ptr::addr_of!((*slot).inner)) };
            // SAFETY: an all-zero `miscdevice` is a valid, unregistered one.
            let mut raw: bindings::miscdevice = unsafe { MaybeUninit::zeroed().assume_init() };
            raw.minor = match options.minor {
                Minor::Dynamic => bindings::MISC_DYNAMIC_MINOR as c_int,
                // 255 would silently ask for a dynamic minor.
                Minor::Fixed(minor)
                    if c_int::from(minor) == bindings::MISC_DYNAMIC_MINOR as c_int =>
                {
                    return Err(EINVAL)
                }
                Minor::Fixed(minor) => minor.into(),
            };
            raw.name = options.name.as_char_ptr();
            raw.mode = options.mode;
            raw.fops = &OpenVtable::<T>::FILE_OPERATIONS;
            // SAFETY: `misc` is valid for writes and pinned with `slot`.
            unsafe { misc.write(raw) };
            // SAFETY: `slot` is valid for writes; `data` must be in place before the device
            // can be opened.
            let data = unsafe {
                let data = core::ptr::addr_of_mut!((*slot).data);
                data.write(data_in);
                data
            };
            // SAFETY: `misc` is initialised and stays pinned until `drop` deregisters it; its
            // name and file operations are `'static`.
            to_result(unsafe { bindings::misc_register(misc) }).inspect_err(|_| {
                // SAFETY: written above, and nobody else can reach it: registration failed.
                unsafe { core::ptr::drop_in_place(data) };
            })
            // INVARIANT: on success `inner` is registered and `data` initialised.
        };
        // SAFETY: on success `init` initialised `inner` and `data`, the only fields that are
        // not ZSTs; on failure it dropped what it wrote. The closure never moves `*slot`.
        unsafe { init::pin_init_from_closure(init) }
    }

    /// The data the device's files share.
    pub fn data(&self) -> &T::RegistrationData {
        &self.data
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

/// The C file operations of `T` devices: those of [`FileOperations`] plus `open`.
struct OpenVtable<T>(PhantomData<T>);

impl<T: MiscDevice> OpenVtable<T> {
    /// Static, so that files outlive a dropped registration safely.
    const FILE_OPERATIONS: bindings::file_operations = bindings::file_operations {
        open: Some(fops_open::<T>),
        ..Vtable::<T>::FILE_OPERATIONS
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
