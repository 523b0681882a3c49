// SPDX-License-Identifier: GPL-2.0

//! Mount options, with overlayfs's names, syntax, checks and error numbers.
//!
//! Layer paths are resolved while the options are parsed, by the mounting task, as overlayfs
//! does: a path that does not resolve fails with its lookup error, one that is not a directory
//! with `EINVAL`.

use kernel::{
    c_str,
    prelude::*,
    vfs::{
        param::{Param, Params, Spec, Table, Value},
        FsContext, Path,
    },
};

/// overlayfs's limit on lower layers.
pub(crate) const MAX_LOWER: usize = 500;

const OPT_LOWERDIR: u8 = 0;
const OPT_UPPERDIR: u8 = 1;
const OPT_WORKDIR: u8 = 2;
const OPT_METACOPY: u8 = 3;

const TABLE: Table<4> = Table::new([
    Spec::string(c_str!("lowerdir"), OPT_LOWERDIR),
    Spec::string(c_str!("upperdir"), OPT_UPPERDIR),
    Spec::string(c_str!("workdir"), OPT_WORKDIR),
    Spec::string(c_str!("metacopy"), OPT_METACOPY),
]);

/// The mount parameters unionfs takes.
pub(crate) const PARAMS: Params = TABLE.params();

/// The options of a mount being set up.
pub(crate) struct Options {
    /// The lower layers, top first.
    pub(crate) lower: KVec<Path>,
    /// The upper layer.
    pub(crate) upper: Option<Path>,
    /// The work directory.
    pub(crate) work: Option<Path>,
    /// `metacopy=on|off`: whether metadata changes copy up a regular file without its data.
    /// unionfs's default is on, overlayfs's off.
    pub(crate) metacopy: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            lower: KVec::new(),
            upper: None,
            work: None,
            metacopy: true,
        }
    }
}

impl Options {
    /// Takes one parameter.
    pub(crate) fn parse(&mut self, fc: &FsContext, param: Param<'_>) -> Result {
        let Value::String(value) = param.value else {
            return Err(EINVAL);
        };
        match param.opt {
            OPT_LOWERDIR => self.parse_lowerdir(fc, value),
            OPT_UPPERDIR => {
                self.upper = Some(resolve_writable_dir(fc, value)?);
                Ok(())
            }
            OPT_WORKDIR => {
                self.work = Some(resolve_writable_dir(fc, value)?);
                Ok(())
            }
            OPT_METACOPY => {
                self.metacopy = match value.as_bytes() {
                    b"on" => true,
                    b"off" => false,
                    _ => return Err(fc.invalf(format_args!("metacopy: 'on' or 'off'"))),
                };
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }

    /// `lowerdir=L1:L2:...`: replaces the lower layers. A backslash escapes the next character
    /// (a `:` in a name); `::` (overlayfs's data-only layers) is refused, as is a trailing `:`.
    fn parse_lowerdir(&mut self, fc: &FsContext, value: &CStr) -> Result {
        self.lower = KVec::new();
        let value = value.as_bytes();
        if value.first() == Some(&b':') {
            return Err(fc.invalf(format_args!("cannot append lower layer")));
        }
        let mut names: KVec<KVec<u8>> = KVec::new();
        let mut name = KVec::new();
        let mut bytes = value.iter();
        while let Some(&c) = bytes.next() {
            match c {
                b'\\' => {
                    // A final backslash escapes nothing and is dropped, as overlayfs does.
                    if let Some(&c) = bytes.next() {
                        name.push(c, GFP_KERNEL)?;
                    }
                }
                b':' => names.push(core::mem::take(&mut name), GFP_KERNEL)?,
                c => name.push(c, GFP_KERNEL)?,
            }
        }
        names.push(name, GFP_KERNEL)?;
        if names.last().is_some_and(|n| n.is_empty()) {
            return Err(fc.invalf(format_args!("unescaped trailing colons in lowerdir")));
        }
        if names.iter().any(|n| n.is_empty()) {
            return Err(fc.invalf(format_args!(
                "data-only lower layers ('::' in lowerdir) are not supported"
            )));
        }
        if names.len() > MAX_LOWER {
            return Err(fc.invalf(format_args!(
                "too many lower directories, limit is {MAX_LOWER}"
            )));
        }
        for name in &names {
            self.lower.push(resolve_dir(fc, name)?, GFP_KERNEL)?;
        }
        Ok(())
    }
}

/// Resolves a layer path as the mounting task and checks that it is a directory.
fn resolve_dir(fc: &FsContext, name: &[u8]) -> Result<Path> {
    let mut buf = KVec::with_capacity(name.len() + 1, GFP_KERNEL)?;
    buf.extend_from_slice(name, GFP_KERNEL)?;
    buf.push(0, GFP_KERNEL)?;
    let name = CStr::from_bytes_with_nul(&buf).map_err(|_| EINVAL)?;
    if name.is_empty() {
        return Err(fc.invalf(format_args!("empty layer path")));
    }
    let path = Path::lookup(name)
        .inspect_err(|e| fc.errorf(format_args!("failed to resolve '{name}': {}", e.to_errno())))?;
    if !path.is_dir() {
        return Err(fc.invalf(format_args!("{name} is not a directory")));
    }
    Ok(path)
}

/// Resolves `upperdir` or `workdir`, which must be writable, as overlayfs checks early.
fn resolve_writable_dir(fc: &FsContext, name: &CStr) -> Result<Path> {
    let path = resolve_dir(fc, name.as_bytes())?;
    if path.is_read_only_mount() {
        return Err(fc.invalf(format_args!("filesystem on {name} is read-only")));
    }
    Ok(path)
}
