// SPDX-License-Identifier: GPL-2.0

//! Copy-up: the first change to an object of a lower layer copies it to the upper layer.
//!
//! As in overlayfs, the copy is built in the work directory under a temporary name, as the
//! mounter: the object with no permission bits, its data, its extended attributes (but
//! overlayfs's own `trusted.overlay.*`), then its mode, owner and times. It is then renamed to
//! its name in the upper layer, so the upper layer never shows a partial object; a failure
//! removes the temporary object and leaves the lower one and the union as they were. Parent
//! directories are copied up first, from the top down.
//!
//! With `metacopy=on` (the default), a change of metadata only (mode, owner, times, extended
//! attributes) copies a regular file up without its data, as overlayfs does with that option:
//! the copy gets the lower file's size but no blocks, and `trusted.overlay.metacopy` (empty)
//! says its data is still the lower file's, which reads and `stat()`'s block count use. The
//! first open for writing, truncate or write copies the data into the upper file in place
//! ([`copy_up_data`]) and only then removes the attribute, so a failure or a signal leaves the
//! file reading the lower data. A rename or hard link of a metacopy file copies its data first:
//! unionfs writes no `trusted.overlay.redirect`, so a metacopy file always sits at the name
//! whose lower file has its data.

use crate::{
    layers::{Union, Upper},
    lookup::{is_metacopy, is_whiteout, Stack, XATTR_METACOPY},
    xattr::is_private,
    UnionFs,
};
use core::sync::atomic::Ordering;
use kernel::{
    bindings, c_str,
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

/// File capabilities, which writing to a file removes.
const XATTR_CAPS: &CStr = c_str!("security.capability");

/// Returns the upper object of `dentry`, copying it and the directories above it up first if
/// they are only in lower layers; with `metacopy=on` a regular file may be copied without its
/// data.
pub(crate) fn copy_up(dentry: &Dentry<UnionFs>) -> Result<Path> {
    copy_up_with(dentry, true)
}

/// Returns the upper object of `dentry` with its data: copies it up, or the data of a metacopy
/// file.
pub(crate) fn copy_up_data(dentry: &Dentry<UnionFs>) -> Result<Path> {
    let upper = copy_up_with(dentry, false)?;
    let stack = dentry.data().ok_or(ENOENT)?;
    if stack.is_metacopy() {
        fill_data(dentry.super_data(), stack)?;
    }
    Ok(upper)
}

/// Copies `dentry` and the directories above it up; `meta` lets a regular file go without its
/// data when the union has `metacopy=on`.
fn copy_up_with(dentry: &Dentry<UnionFs>, meta: bool) -> Result<Path> {
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
    let meta = meta && union.metacopy;
    for d in chain.iter().rev() {
        dir = copy_up_one(union, upper, d, &dir, meta)?;
    }
    Ok(dir)
}

/// Copies `dentry` into `dir`, its parent's upper directory, unless that is done; a regular
/// file without its data if `meta`.
fn copy_up_one(
    union: &Union,
    upper: &Upper,
    dentry: &Dentry<UnionFs>,
    dir: &Path,
    meta: bool,
) -> Result<Path> {
    let stack = dentry.data().ok_or(ENOENT)?;
    let _guard = upper.copy_up_lock.lock();
    if let Some(done) = stack.upper() {
        return Ok(done.clone());
    }
    let name = dentry.name()?;
    let (copy, metacopy) = union.creds.with_override(|| -> Result<(Path, bool)> {
        // Another dentry of the name may have been copied up since this one was looked up.
        if let Some(existing) = dir.lookup_child(&name)? {
            if !is_whiteout(&existing) {
                let metacopy = is_metacopy(&existing);
                return Ok((existing, metacopy));
            }
        }
        let lower = stack.lower().ok_or(EIO)?;
        let meta = meta && lower.file_type() == Some(FileType::Regular);
        Ok((build(union, upper, lower, dir, &name, meta)?, meta))
    })?;
    let copy = record(stack, copy, metacopy);
    // Direct changes to the copy show in the union too.
    dentry.watch_new_paths();
    Ok(copy)
}

/// Records `copy` as the upper object of `stack`, a metacopy one if `metacopy`, and returns the
/// one recorded.
fn record(stack: &Stack, copy: Path, metacopy: bool) -> Path {
    let set = if metacopy {
        stack.set_metacopy_upper(copy)
    } else {
        stack.set_upper(copy)
    };
    match set {
        Ok(()) => stack.upper().cloned(),
        Err(copy) => Some(copy),
    }
    .unwrap_or_else(|| stack.top().clone())
}

/// Copies the data of the metacopy file of `stack` into its upper object, in place: the upper
/// file shows the lower data until the metacopy attribute goes, after the copy, so a failure
/// leaves it as it was (a failed copy's blocks are freed again).
fn fill_data(union: &Union, stack: &Stack) -> Result {
    let upper = union.upper.as_ref().ok_or(EROFS)?;
    let _guard = upper.copy_up_lock.lock();
    if !stack.is_metacopy() {
        return Ok(());
    }
    let (Some(copy), Some(lower)) = (stack.upper(), stack.lower()) else {
        return Err(EIO);
    };
    union.creds.with_override(|| -> Result {
        let mut stat = Kstat::new();
        copy.getattr(&mut stat, bindings::STATX_BASIC_STATS, 0)?;
        // Writing drops file capabilities; they are the copy's metadata and stay.
        let caps = match copy.getxattr(XATTR_CAPS, &mut []) {
            Ok(len) => {
                let mut caps = KVec::from_elem(0u8, len, GFP_KERNEL)?;
                let len = copy.getxattr(XATTR_CAPS, &mut caps)?;
                Some((caps, len))
            }
            Err(_) => None,
        };
        let copied = lower.copy_data(copy, stat.size(), &union.creds);
        if copied.is_err() {
            // Give back the blocks of a partial copy: cut to nothing, then to the size again.
            let mut attr = SetAttr::new();
            attr.set_size(0);
            if copy.setattr(&mut attr).is_ok() {
                let mut attr = SetAttr::new();
                attr.set_size(stat.size());
                let _ = copy.setattr(&mut attr);
            }
        }
        // The copy keeps the times the union showed.
        let mut attr = SetAttr::new();
        attr.copy_times(&stat);
        let times = copy.setattr(&mut attr);
        copied?;
        if let Some((caps, len)) = caps {
            copy.setxattr(XATTR_CAPS, caps.get(..len).ok_or(EIO)?, 0)?;
        }
        times?;
        copy.removexattr(XATTR_METACOPY)
    })?;
    stack.clear_metacopy();
    Ok(())
}

/// A new temporary name in the work directory, as overlayfs makes them: `#` and a number.
pub(crate) fn temp_name(upper: &Upper) -> Result<CString> {
    let id = upper.next_temp.fetch_add(1, Ordering::Relaxed);
    CString::try_from_fmt(kernel::fmt!("#{id:x}"))
}

/// Builds a copy of `lower` in the work directory, without its data if `meta`, and renames it to
/// `name` in `dir`.
fn build(
    union: &Union,
    upper: &Upper,
    lower: &Path,
    dir: &Path,
    name: &[u8],
    meta: bool,
) -> Result<Path> {
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
    let ret = fill(union, lower, &copy, &stat, meta)
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

/// Gives the new object `copy` the data (only the size and the metacopy attribute if `meta`),
/// extended attributes, mode, owner and times of `lower`, whose attributes are `stat`.
fn fill(union: &Union, lower: &Path, copy: &Path, stat: &Kstat, meta: bool) -> Result {
    if meta {
        copy.setxattr(XATTR_METACOPY, &[], 0)?;
        let mut attr = SetAttr::new();
        attr.set_size(stat.size());
        copy.setattr(&mut attr)?;
    } else if lower.file_type() == Some(FileType::Regular) {
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

/// `setattr()`: copies the object up (with its data for a truncate) and changes the upper one.
pub(crate) fn setattr(dentry: &Dentry<UnionFs>, attr: &mut SetAttr) -> Result {
    let upper = if attr.changes_size() {
        copy_up_data(dentry)?
    } else {
        copy_up(dentry)?
    };
    attr.for_real_object();
    dentry
        .super_data()
        .creds
        .with_override(|| upper.setattr(attr))
}

/// The real object to open for `flags`: opens for writing or truncating copy the object up with
/// its data; others open the object that has the data.
pub(crate) fn open_real(dentry: &Dentry<UnionFs>, flags: u32) -> Result<Path> {
    let stack = dentry.data().ok_or(ENOENT)?;
    let writes =
        flags & bindings::O_ACCMODE != bindings::O_RDONLY || flags & bindings::O_TRUNC != 0;
    if writes && (stack.upper().is_none() || stack.is_metacopy()) {
        return copy_up_data(dentry);
    }
    Ok(stack.data_path().clone())
}
