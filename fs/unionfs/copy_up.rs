// SPDX-License-Identifier: GPL-2.0

//! Copy-up: the first change to an object of a lower layer copies it to the upper layer.
//!
//! As in overlayfs, the copy is built in the work directory under a temporary name, as the
//! mounter: the object with no permission bits, its data, its extended attributes (but
//! overlayfs's own `trusted.overlay.*`), then its mode, owner and times. It is then renamed to
//! its name in the upper layer, so the upper layer never shows a partial object; a failure
//! removes the temporary object and leaves the lower one and the union as they were. Parent
//! directories are copied up first, from the top down.

use crate::{
    layers::{Union, Upper},
    lookup::{is_whiteout, Stack},
    xattr::is_private,
    UnionFs,
};
use core::sync::atomic::Ordering;
use kernel::{
    bindings,
    prelude::*,
    str::CString,
    types::ARef,
    vfs::{
        change::{NewObject, SetAttr},
        inode::Kstat,
        Dentry, FileType, Path,
    },
};

/// The extended attributes a copy does not take besides overlayfs's own: POSIX ACLs, which the
/// mode carries.
const NOT_COPIED: &[u8] = b"system.posix_acl_";

/// Returns the upper object of `dentry`, copying it and the directories above it up first if
/// they are only in lower layers.
pub(crate) fn copy_up(dentry: &Dentry<UnionFs>) -> Result<Path> {
    let union = dentry.super_data();
    let upper = union.upper.as_ref().ok_or(EROFS)?;
    // The dentries from `dentry` up to the first one with an upper object, which the root
    // always has.
    let mut chain: KVec<ARef<Dentry<UnionFs>>> = KVec::new();
    let mut cur = ARef::from(dentry);
    let mut dir = loop {
        let stack = cur.data().ok_or(ENOENT)?;
        if let Some(found) = stack.upper() {
            break found.clone();
        }
        let parent = cur.parent();
        if core::ptr::eq(&*parent, &*cur) {
            return Err(EIO);
        }
        chain.push(cur, GFP_KERNEL)?;
        cur = parent;
    };
    for d in chain.iter().rev() {
        dir = copy_up_one(union, upper, d, &dir)?;
    }
    Ok(dir)
}

/// Copies `dentry` into `dir`, its parent's upper directory, unless that is done.
fn copy_up_one(union: &Union, upper: &Upper, dentry: &Dentry<UnionFs>, dir: &Path) -> Result<Path> {
    let stack = dentry.data().ok_or(ENOENT)?;
    let _guard = upper.copy_up_lock.lock();
    if let Some(done) = stack.upper() {
        return Ok(done.clone());
    }
    let name = dentry.name()?;
    let copy = union.creds.with_override(|| -> Result<Path> {
        // Another dentry of the name may have been copied up since this one was looked up.
        if let Some(existing) = dir.lookup_child(&name)? {
            if !is_whiteout(&existing) {
                return Ok(existing);
            }
        }
        let lower = stack.lower().ok_or(EIO)?;
        build(union, upper, lower, dir, &name)
    })?;
    let copy = record(stack, copy);
    // Direct changes to the copy show in the union too.
    dentry.watch_new_paths();
    Ok(copy)
}

/// Records `copy` as the upper object of `stack`, and returns the one recorded.
fn record(stack: &Stack, copy: Path) -> Path {
    match stack.set_upper(copy) {
        Ok(()) => stack.upper().cloned(),
        Err(copy) => Some(copy),
    }
    .unwrap_or_else(|| stack.top().clone())
}

/// A new temporary name in the work directory, as overlayfs makes them: `#` and a number.
pub(crate) fn temp_name(upper: &Upper) -> Result<CString> {
    let id = upper.next_temp.fetch_add(1, Ordering::Relaxed);
    CString::try_from_fmt(kernel::fmt!("#{id:x}"))
}

/// Builds a copy of `lower` in the work directory and renames it to `name` in `dir`.
fn build(union: &Union, upper: &Upper, lower: &Path, dir: &Path, name: &[u8]) -> Result<Path> {
    let mut stat = Kstat::new();
    lower.getattr(&mut stat, bindings::STATX_BASIC_STATS, 0)?;
    let temp = temp_name(upper)?;
    let temp = temp.as_bytes();
    let mode = stat.mode();
    let target;
    let what = match lower.file_type() {
        Some(FileType::Regular) => NewObject::File,
        Some(FileType::Directory) => NewObject::Directory,
        Some(FileType::Symlink) => {
            target = lower.link_target()?;
            NewObject::Symlink(&target)
        }
        Some(_) => NewObject::Node(lower.rdev()),
        None => return Err(EIO),
    };
    // No permission bits until the copy is complete.
    let copy = upper.work.make_child(temp, mode & bindings::S_IFMT, what)?;
    let ret = fill(union, lower, &copy, &stat)
        .and_then(|()| Path::rename(&upper.work, temp, dir, name, 0));
    if let Err(e) = ret {
        // Nothing half-made stays behind; a failure to remove it is left to the next mount's
        // clean-up of the work directory.
        let _ = upper.work.remove_child(temp);
        return Err(e);
    }
    // The rename moved the temporary dentry to its name in the upper layer.
    Ok(copy)
}

/// Gives the new object `copy` the data, extended attributes, mode, owner and times of
/// `lower`, whose attributes are `stat`.
fn fill(union: &Union, lower: &Path, copy: &Path, stat: &Kstat) -> Result {
    if lower.file_type() == Some(FileType::Regular) {
        lower.copy_data(copy, stat.size(), &union.creds)?;
    }
    copy_xattrs(lower, copy)?;
    if lower.file_type() != Some(FileType::Symlink) {
        let mut attr = SetAttr::new();
        attr.copy_mode(stat);
        copy.setattr(&mut attr)?;
    }
    let mut attr = SetAttr::new();
    attr.copy_owner(stat);
    copy.setattr(&mut attr)?;
    let mut attr = SetAttr::new();
    attr.copy_times(stat);
    copy.setattr(&mut attr)
}

/// Copies the extended attributes of `from` to `to`, but overlayfs's own and ACLs.
fn copy_xattrs(from: &Path, to: &Path) -> Result {
    let len = match from.listxattr(&mut []) {
        Ok(len) => len,
        Err(e) if is_errno(e, bindings::EOPNOTSUPP) => return Ok(()),
        Err(e) => return Err(e),
    };
    if len == 0 {
        return Ok(());
    }
    let mut names = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    let len = from.listxattr(&mut names)?;
    for name in names[..len].split(|&b| b == 0) {
        if name.is_empty() || is_private(name) || name.starts_with(NOT_COPIED) {
            continue;
        }
        let mut cname = KVec::with_capacity(name.len() + 1, GFP_KERNEL)?;
        cname.extend_from_slice(name, GFP_KERNEL)?;
        cname.push(0, GFP_KERNEL)?;
        let cname = CStr::from_bytes_with_nul(&cname).map_err(|_| EINVAL)?;
        let size = match from.getxattr(cname, &mut []) {
            Ok(size) => size,
            // Removed since it was listed.
            Err(e) if is_errno(e, bindings::ENODATA) => continue,
            Err(e) => return Err(e),
        };
        let mut value = KVec::from_elem(0u8, size, GFP_KERNEL)?;
        let size = from.getxattr(cname, &mut value)?;
        to.setxattr(cname, &value[..size], 0)?;
    }
    Ok(())
}

/// Returns whether `e` is the error number `errno`, for those `kernel::error::code` lacks.
fn is_errno(e: Error, errno: u32) -> bool {
    e.to_errno() == -(errno as i32)
}

/// `setattr()`: copies the object up and changes the upper one.
pub(crate) fn setattr(dentry: &Dentry<UnionFs>, attr: &mut SetAttr) -> Result {
    let upper = copy_up(dentry)?;
    attr.for_real_object();
    dentry
        .super_data()
        .creds
        .with_override(|| upper.setattr(attr))
}

/// The real object to open for `flags`: opens for writing or truncating copy the object up.
pub(crate) fn open_real(dentry: &Dentry<UnionFs>, flags: u32) -> Result<Path> {
    let stack = dentry.data().ok_or(ENOENT)?;
    let writes =
        flags & bindings::O_ACCMODE != bindings::O_RDONLY || flags & bindings::O_TRUNC != 0;
    if writes && stack.upper().is_none() {
        return copy_up(dentry);
    }
    Ok(stack.top().clone())
}
