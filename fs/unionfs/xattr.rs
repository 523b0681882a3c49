// SPDX-License-Identifier: GPL-2.0

//! Extended attributes through the union, as overlayfs 6.12 shows them.
//!
//! Reading and listing show the topmost real object's attributes, as the mounter; setting and
//! removing copy the object up first and change the upper copy. overlayfs's own attributes
//! (`trusted.overlay.*`) are hidden. A user's `trusted.overlay.NAME` is stored *escaped*, as
//! `trusted.overlay.overlay.NAME`, and shown back under its own name, as overlayfs does, so that
//! users cannot forge the union's format. Names in the `trusted.` namespace are listed to
//! callers with `CAP_SYS_ADMIN` only, as filesystems list them.

use crate::{copy_up::copy_up, UnionFs};
use kernel::{bindings, prelude::*, vfs::xattr::may_list_trusted, vfs::Dentry};

/// The prefix of overlayfs's own attributes.
pub(crate) const PRIVATE: &[u8] = b"trusted.overlay.";
/// What an escaped attribute has after [`PRIVATE`].
const ESCAPE: &[u8] = b"overlay.";

/// Returns whether `name` is one of overlayfs's own attributes, which users never see.
pub(crate) fn is_private(name: &[u8]) -> bool {
    name.starts_with(PRIVATE) && !name[PRIVATE.len()..].starts_with(ESCAPE)
}

/// The real name of the attribute a user calls `name`, with a NUL byte.
fn real_name(name: &CStr) -> Result<KVec<u8>> {
    let name = name.as_bytes();
    let mut real = KVec::new();
    if let Some(rest) = name.strip_prefix(PRIVATE) {
        if PRIVATE.len() + ESCAPE.len() + rest.len() > bindings::XATTR_NAME_MAX as usize {
            return Err(Error::from_errno(-(bindings::EOPNOTSUPP as i32)));
        }
        real.extend_from_slice(PRIVATE, GFP_KERNEL)?;
        real.extend_from_slice(ESCAPE, GFP_KERNEL)?;
        real.extend_from_slice(rest, GFP_KERNEL)?;
    } else {
        real.extend_from_slice(name, GFP_KERNEL)?;
    }
    real.push(0, GFP_KERNEL)?;
    Ok(real)
}

/// `getxattr()`.
pub(crate) fn get(dentry: &Dentry<UnionFs>, name: &CStr, buf: &mut [u8]) -> Result<usize> {
    let real = real_name(name)?;
    let real = CStr::from_bytes_with_nul(&real).map_err(|_| EINVAL)?;
    let stack = dentry.data().ok_or(ENOENT)?;
    dentry
        .super_data()
        .creds
        .with_override(|| stack.top().getxattr(real, buf))
}

/// `setxattr()` and `removexattr()` (`value` is `None`).
pub(crate) fn set(
    dentry: &Dentry<UnionFs>,
    name: &CStr,
    value: Option<&[u8]>,
    flags: u32,
) -> Result {
    let real = real_name(name)?;
    let real = CStr::from_bytes_with_nul(&real).map_err(|_| EINVAL)?;
    let upper = copy_up(dentry)?;
    dentry.super_data().creds.with_override(|| match value {
        Some(value) => upper.setxattr(real, value, flags),
        None => upper.removexattr(real),
    })
}

/// `listxattr()`: the real names but overlayfs's own, escaped ones unescaped.
pub(crate) fn list(dentry: &Dentry<UnionFs>, buf: &mut [u8]) -> Result<usize> {
    let stack = dentry.data().ok_or(ENOENT)?;
    let creds = &dentry.super_data().creds;
    let len = creds.with_override(|| stack.top().listxattr(&mut []))?;
    let mut names = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    let len = creds.with_override(|| stack.top().listxattr(&mut names))?;
    let trusted = may_list_trusted();
    let mut out = 0;
    for name in names[..len].split(|&b| b == 0) {
        if name.is_empty() || is_private(name) || (!trusted && name.starts_with(b"trusted.")) {
            continue;
        }
        let mut emit = |part: &[u8]| -> Result {
            if !buf.is_empty() {
                let dst = buf.get_mut(out..out + part.len()).ok_or(ERANGE)?;
                dst.copy_from_slice(part);
            }
            out += part.len();
            Ok(())
        };
        match name.strip_prefix(PRIVATE) {
            Some(rest) => {
                emit(PRIVATE)?;
                emit(&rest[ESCAPE.len()..])?;
            }
            None => emit(name)?,
        }
        emit(&[0])?;
    }
    Ok(out)
}
