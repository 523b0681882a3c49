// SPDX-License-Identifier: GPL-2.0

//! Typed mount parameters.
//!
//! A filesystem lists the parameters it accepts in a [`Table`]; the VFS parses each `key=value`
//! of a mount against it with `fs_parse()`, reports unknown keys and values of the wrong kind in
//! the mount's log with `EINVAL`, and hands the filesystem the rest as a [`Param`].
//!
//! C header: [`include/linux/fs_parser.h`](srctree/include/linux/fs_parser.h)

use crate::{bindings, str::CStr};
use core::{mem::MaybeUninit, ptr};

/// The kind of value a parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No value: `key`.
    Flag,
    /// A non-empty string: `key=value`.
    String,
}

/// One accepted parameter: its name, the kind of its value and the number the filesystem knows
/// it by.
#[derive(Clone, Copy)]
pub struct Spec {
    name: &'static CStr,
    kind: Kind,
    opt: u8,
}

impl Spec {
    /// A parameter `name` without a value, reported as option `opt`.
    pub const fn flag(name: &'static CStr, opt: u8) -> Self {
        Self {
            name,
            kind: Kind::Flag,
            opt,
        }
    }

    /// A parameter `name=value` with a non-empty string value, reported as option `opt`.
    pub const fn string(name: &'static CStr, opt: u8) -> Self {
        Self {
            name,
            kind: Kind::String,
            opt,
        }
    }
}

/// The C parameter table: the entries and the all-zero entry that ends them.
#[repr(C)]
struct CSpecs<const N: usize> {
    specs: [bindings::fs_parameter_spec; N],
    end: bindings::fs_parameter_spec,
}

/// A table of mount parameters, built at compile time.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, vfs::param::{Spec, Table}};
///
/// const OPT_SOURCE_DIR: u8 = 0;
/// const OPT_VERBOSE: u8 = 1;
///
/// const PARAMS: Table<2> = Table::new([
///     Spec::string(c_str!("dir"), OPT_SOURCE_DIR),
///     Spec::flag(c_str!("verbose"), OPT_VERBOSE),
/// ]);
/// # let _ = PARAMS.params();
/// ```
pub struct Table<const N: usize> {
    c: CSpecs<N>,
    kinds: [(u8, Kind); N],
}

// SAFETY: the table is never changed after it is built, and its pointers are to `'static`
// strings and functions, so it may be shared between threads.
unsafe impl<const N: usize> Sync for Table<N> {}

impl<const N: usize> Table<N> {
    /// Builds the table of `specs`.
    pub const fn new(specs: [Spec; N]) -> Self {
        // SAFETY: all-zero is a valid `fs_parameter_spec` (null name and type): the entry that
        // ends a table.
        let zero: bindings::fs_parameter_spec = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut c = CSpecs {
            specs: [zero; N],
            end: zero,
        };
        let mut kinds = [(0, Kind::Flag); N];
        let mut i = 0;
        while i < N {
            let s = specs[i];
            c.specs[i].name = s.name.as_char_ptr();
            c.specs[i].opt = s.opt;
            c.specs[i].type_ = match s.kind {
                Kind::Flag => None,
                Kind::String => Some(bindings::fs_param_is_string),
            };
            kinds[i] = (s.opt, s.kind);
            i += 1;
        }
        Self { c, kinds }
    }

    /// The table as a filesystem type names it in [`FileSystem::PARAMS`].
    ///
    /// [`FileSystem::PARAMS`]: super::FileSystem::PARAMS
    pub const fn params(&'static self) -> Params {
        // INVARIANT: `specs` is followed by the all-zero entry, and `kinds` describes it.
        Params {
            specs: ptr::addr_of!(self.c.specs).cast(),
            kinds: &self.kinds,
        }
    }
}

/// A parameter table, as [`Table::params`] returns it.
///
/// # Invariants
///
/// `specs` points to a `'static`, never changed array of `fs_parameter_spec` that ends with an
/// all-zero entry, and `kinds` gives the kind of each option number in it.
#[derive(Clone, Copy)]
pub struct Params {
    specs: *const bindings::fs_parameter_spec,
    kinds: &'static [(u8, Kind)],
}

impl Params {
    /// The C table, for `file_system_type::parameters` and `fs_parse()`.
    pub(crate) const fn as_ptr(&self) -> *const bindings::fs_parameter_spec {
        self.specs
    }

    /// The kind of value option `opt` takes.
    pub(crate) fn kind(&self, opt: u8) -> Option<Kind> {
        self.kinds.iter().find(|k| k.0 == opt).map(|k| k.1)
    }
}

/// A parsed parameter: the option number of its table entry and its value.
#[derive(Clone, Copy, Debug)]
pub struct Param<'a> {
    /// The option number given in its [`Spec`].
    pub opt: u8,
    /// Its value.
    pub value: Value<'a>,
}

/// The value of a parsed parameter.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// A [`Kind::Flag`] parameter.
    Flag,
    /// A [`Kind::String`] parameter's value.
    String(&'a CStr),
}
