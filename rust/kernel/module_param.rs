// SPDX-License-Identifier: GPL-2.0

//! Module parameters.
//!
//! A parameter is set on the `insmod` command line (`insmod rkvm.ko compat=1`), on the kernel
//! command line for built-in code (`rkvm.compat=1`), and, when its permissions allow, through
//! `/sys/module/<module>/parameters/<name>`. [`module_param!`](crate::module_param!) declares
//! one: a static the module reads with [`ModuleParam::get`], plus the records that give the
//! kernel its name, type, permissions and description.
//!
//! C header: [`include/linux/moduleparam.h`](srctree/include/linux/moduleparam.h)

use crate::{
    bindings,
    error::code::EINVAL,
    ffi::{c_char, c_int, c_void},
    str::CStr,
    ThisModule,
};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// A type a module parameter can have.
///
/// # Safety
///
/// `Storage` must have the size, alignment and representation of the C type that
/// [`ParamType::OPS`] reads and writes through `kernel_param.arg`.
pub unsafe trait ParamType: Copy + 'static {
    /// Where the value lives: an atomic, since sysfs may write it while the module reads it.
    type Storage: Sync;
    /// The kernel's parser and printer for the type.
    const OPS: &'static bindings::kernel_param_ops;
    /// The type's name in `modinfo` (`parmtype=`).
    const NAME: &'static str;
    /// The current value in `storage`.
    fn load(storage: &Self::Storage) -> Self;
}

// SAFETY: `param_ops_bool` reads and writes a C `bool`, one byte holding 0 or 1, as `AtomicBool`.
unsafe impl ParamType for bool {
    type Storage = AtomicBool;
    // SAFETY: `param_ops_bool` is an immutable object the kernel defines.
    const OPS: &'static bindings::kernel_param_ops = unsafe { &bindings::param_ops_bool };
    const NAME: &'static str = "bool";
    fn load(storage: &AtomicBool) -> Self {
        storage.load(Ordering::Relaxed)
    }
}

// SAFETY: `param_ops_uint` reads and writes a C `unsigned int`, as `AtomicU32`.
unsafe impl ParamType for u32 {
    type Storage = AtomicU32;
    // SAFETY: `param_ops_uint` is an immutable object the kernel defines.
    const OPS: &'static bindings::kernel_param_ops = unsafe { &bindings::param_ops_uint };
    const NAME: &'static str = "uint";
    fn load(storage: &AtomicU32) -> Self {
        storage.load(Ordering::Relaxed)
    }
}

/// A `u32` parameter that only takes values from `MIN` to `MAX`.
///
/// Any other value, or a string that is not a number, is refused with `EINVAL` and a kernel
/// message naming the parameter and its range, whether it comes from `insmod` (which then
/// fails) or from a write to sysfs; the old value stays.
///
/// # Examples
///
/// ```
/// use kernel::module_param::{ModuleParam, RangedU32};
///
/// static WINDOW: ModuleParam<RangedU32<1, 4096>> = ModuleParam::<RangedU32<1, 4096>>::new(256);
/// assert_eq!(WINDOW.get().value(), 256);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangedU32<const MIN: u32, const MAX: u32>(u32);

impl<const MIN: u32, const MAX: u32> RangedU32<MIN, MAX> {
    /// The value, from `MIN` to `MAX`.
    pub fn value(self) -> u32 {
        self.0
    }

    /// Parses and checks a new value for the parameter `kp`, and stores it.
    ///
    /// # Safety
    ///
    /// `val` must be a NUL-terminated string and `kp` a parameter record whose `arg` points to
    /// the `AtomicU32` storage of a `ModuleParam<Self>`.
    unsafe extern "C" fn set(val: *const c_char, kp: *const bindings::kernel_param) -> c_int {
        let mut v: u32 = 0;
        // SAFETY: `val` is NUL-terminated (the caller's guarantee); `v` is valid for writes.
        let parsed = unsafe { bindings::kstrtouint(val, 0, &mut v) } == 0;
        if !parsed || !(MIN..=MAX).contains(&v) {
            // SAFETY: a parameter record names its parameter with a static string.
            let name = unsafe { CStr::from_char_ptr((*kp).name) };
            crate::pr_err!("{}: must be a number from {} to {}\n", name, MIN, MAX);
            return EINVAL.to_errno();
        }
        // SAFETY: `arg` points to the parameter's `AtomicU32` storage (the caller's guarantee).
        let storage = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<AtomicU32>() };
        storage.store(v, Ordering::Relaxed);
        0
    }
}

// SAFETY: `set` writes, and `param_get_uint` reads, a C `unsigned int` through `arg`, which is
// the `AtomicU32` storage, of the same layout; `set` only stores values in range.
unsafe impl<const MIN: u32, const MAX: u32> ParamType for RangedU32<MIN, MAX> {
    type Storage = AtomicU32;
    const OPS: &'static bindings::kernel_param_ops = &bindings::kernel_param_ops {
        flags: 0,
        set: Some(Self::set),
        get: Some(bindings::param_get_uint),
        free: None,
    };
    const NAME: &'static str = "uint";
    fn load(storage: &AtomicU32) -> Self {
        Self(storage.load(Ordering::Relaxed))
    }
}

/// The value of a module parameter; declare one with [`module_param!`](crate::module_param!).
///
/// # Examples
///
/// ```
/// use kernel::module_param::{modinfo, modinfo_len, ModuleParam};
///
/// static WINDOW: ModuleParam<u32> = ModuleParam::<u32>::new(32);
/// assert_eq!(WINDOW.get(), 32);
///
/// // What `module_param!` puts in `.modinfo` for `modinfo` to show.
/// const PARTS: &[&str] = &["parm=", "window", ":", "Pages to read ahead"];
/// const TEXT: [u8; modinfo_len(PARTS)] = modinfo(PARTS);
/// assert_eq!(&TEXT, b"parm=window:Pages to read ahead\0");
/// ```
///
/// # Invariants
///
/// The kernel reads and writes the value through a pointer to this struct, which is also a
/// pointer to `storage`.
#[repr(transparent)]
pub struct ModuleParam<T: ParamType> {
    storage: T::Storage,
}

impl ModuleParam<bool> {
    #[doc(hidden)]
    pub const fn new(default: bool) -> Self {
        Self {
            storage: AtomicBool::new(default),
        }
    }
}

impl ModuleParam<u32> {
    #[doc(hidden)]
    pub const fn new(default: u32) -> Self {
        Self {
            storage: AtomicU32::new(default),
        }
    }
}

impl<const MIN: u32, const MAX: u32> ModuleParam<RangedU32<MIN, MAX>> {
    #[doc(hidden)]
    pub const fn new(default: u32) -> Self {
        assert!(MIN <= default && default <= MAX, "default out of range");
        Self {
            storage: AtomicU32::new(default),
        }
    }
}

impl<T: ParamType> ModuleParam<T> {
    /// The parameter's value now: its default, the value given at load time, or the last one
    /// written through sysfs.
    pub fn get(&self) -> T {
        T::load(&self.storage)
    }
}

/// The record in the `__param` section by which the kernel finds a parameter.
#[doc(hidden)]
#[repr(transparent)]
pub struct KernelParam(bindings::kernel_param);

// SAFETY: the record is never written after it is built; it points to static data only.
unsafe impl Sync for KernelParam {}

impl KernelParam {
    /// A record for the parameter `name` of `module`, stored in `param`.
    pub const fn new<T: ParamType>(
        name: &'static CStr,
        module: &'static ThisModule,
        perm: u16,
        param: &'static ModuleParam<T>,
    ) -> Self {
        assert!(
            perm & 0o002 == 0,
            "module parameters must not be writable by everyone"
        );
        let arg: *const ModuleParam<T> = param;
        Self(bindings::kernel_param {
            name: name.as_char_ptr(),
            mod_: module.as_ptr(),
            ops: T::OPS,
            perm,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: arg.cast::<c_void>().cast_mut(),
            },
        })
    }
}

/// The length of the `.modinfo` string made of `parts` and a NUL.
#[doc(hidden)]
pub const fn modinfo_len(parts: &[&str]) -> usize {
    let mut len = 1;
    let mut i = 0;
    while i < parts.len() {
        len += parts[i].len();
        i += 1;
    }
    len
}

/// The `.modinfo` string made of `parts` and a NUL.
#[doc(hidden)]
pub const fn modinfo<const N: usize>(parts: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut i = 0;
    while i < parts.len() {
        let bytes = parts[i].as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            out[at] = bytes[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(at + 1 == N);
    out
}

/// Declares a module parameter.
///
/// `module_param!(NAME: type = default, module: "m", name: "n", perm: p, "description")`
/// defines the static `NAME`, a [`ModuleParam`] read with `NAME.get()`. The type is `bool`,
/// `u32` or [`RangedU32`]. `module` is the module's name, as in
/// [`module!`](crate::prelude::module); `perm` gives the permissions of
/// `/sys/module/<module>/parameters/<name>`: `0o444` for a value fixed at load time, `0o644` for
/// one root may change later, `0` for none. Use it in the module's crate, whose `THIS_MODULE` it
/// refers to.
///
/// # Examples
///
/// ```ignore
/// module_param!(COMPAT: bool = false, module: "rkvm", name: "compat", perm: 0o444,
///               "Register as /dev/kvm");
///
/// if COMPAT.get() {
///     // ...
/// }
/// ```
#[macro_export]
macro_rules! module_param {
    ($var:ident: $ty:ty = $default:expr, module: $module:literal, name: $name:literal,
     perm: $perm:expr, $desc:literal) => {
        static $var: $crate::module_param::ModuleParam<$ty> =
            $crate::module_param::ModuleParam::<$ty>::new($default);

        const _: () = {
            use $crate::module_param::{modinfo, modinfo_len, KernelParam, ParamType};

            // Loadable modules' names and `.modinfo` strings go as they are; built-in ones
            // are prefixed by `module.`.
            #[cfg(MODULE)]
            const PREFIX: &str = "";
            #[cfg(not(MODULE))]
            const PREFIX: &str = ::core::concat!($module, ".");

            #[cfg(MODULE)]
            const NAME: &$crate::str::CStr = $crate::c_str!($name);
            #[cfg(not(MODULE))]
            const NAME: &$crate::str::CStr = $crate::c_str!(::core::concat!($module, ".", $name));

            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: KernelParam = KernelParam::new::<$ty>(NAME, &THIS_MODULE, $perm, &$var);

            const TYPE: &[&str] = &[PREFIX, "parmtype=", $name, ":", <$ty as ParamType>::NAME];
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; modinfo_len(TYPE)] = modinfo(TYPE);

            const DESC: &[&str] = &[PREFIX, "parm=", $name, ":", $desc];
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; modinfo_len(DESC)] = modinfo(DESC);
        };
    };
}
