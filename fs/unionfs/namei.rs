// SPDX-License-Identifier: GPL-2.0

//! Names made, removed and renamed through a writable union, with overlayfs's whiteouts and
//! opaque directories.
//!
//! Every change is made in the upper layer, as the mounter, after the parent directories are
//! copied up:
//!
//! - a new object is made in its upper directory; over a whiteout it is built in the work
//!   directory and swapped with the whiteout, and a directory made there is opaque, since the
//!   whiteout hid what the lower layers have of the name;
//! - removing a name that lower layers have leaves a whiteout (a 0/0 character device) in its
//!   place; an upper object is first swapped with it in one rename, then removed in the work
//!   directory with what it holds;
//! - a rename is one rename in the upper layer, which leaves a whiteout at the old name if lower
//!   layers have it (`RENAME_WHITEOUT`); directories that lower layers have cannot be renamed
//!   (`EXDEV`, as overlayfs without `redirect_dir`).
//!
//! New objects get the caller's filesystem user and group, as if the caller made them.

use crate::{
    copy_up::{copy_up, copy_up_data, temp_name},
    layers::{clean_dir, Union, Upper},
    lookup::{is_whiteout, Stack, XATTR_OPAQUE},
    readdir, UnionFs,
};
use kernel::{
    bindings,
    cred::Credential,
    prelude::*,
    vfs::{
        change::{NewObject, SetAttr},
        inode::next_ino,
        Dentry, Entry, Path,
    },
};

/// `ENOTEMPTY`, which `kernel::error::code` lacks.
fn enotempty() -> Error {
    Error::from_errno(-(bindings::ENOTEMPTY as i32))
}

/// The entry of a new union dentry for the upper object `path`.
fn entry(union: &Union, path: Path) -> Result<Entry<UnionFs>> {
    let ino = if union.samefs { path.ino() } else { next_ino() };
    Ok(Entry {
        data: Stack::new(Some(path), KVec::new())?,
        ino,
    })
}

/// Gives a new upper object in `dir` the caller's filesystem user and group (the directory's
/// group in a set-group-id directory, which the upper filesystem gave it).
fn set_owner(new: &Path, caller: &Credential, dir: &Path) -> Result {
    let mut attr = SetAttr::new();
    attr.set_owner_of(caller, dir.mode() & bindings::S_ISGID != 0);
    new.setattr(&mut attr)
}

/// Makes a whiteout called `name` in `dir`.
fn whiteout(dir: &Path, name: &[u8]) -> Result<Path> {
    dir.make_child(name, bindings::S_IFCHR, NewObject::Node(0))
}

/// Replaces the whiteout `name` in `dir` by a new object built in the work directory.
fn make_over_whiteout(
    upper: &Upper,
    dir: &Path,
    name: &[u8],
    mode: u32,
    what: NewObject<'_>,
    caller: &Credential,
) -> Result<Path> {
    let temp = temp_name(upper)?;
    let temp = temp.as_bytes();
    let new = upper.work.make_child(temp, mode, what)?;
    let ret = (|| {
        set_owner(&new, caller, dir)?;
        if new.is_dir() {
            new.setxattr(XATTR_OPAQUE, b"y", 0)?;
            Path::rename(&upper.work, temp, dir, name, bindings::RENAME_EXCHANGE)?;
            // The whiteout, now in the work directory.
            upper.work.remove_child(temp)
        } else {
            Path::rename(&upper.work, temp, dir, name, 0)
        }
    })();
    if ret.is_err() {
        let _ = upper.work.remove_child(temp);
    }
    ret.map(|()| new)
}

/// `open(O_CREAT)`, `mkdir()`, `symlink()`, `mknod()`.
pub(crate) fn make(
    parent: &Dentry<UnionFs>,
    dentry: &Dentry<UnionFs>,
    mode: u32,
    what: NewObject<'_>,
) -> Result<Entry<UnionFs>> {
    let union = parent.super_data();
    let upper = union.upper.as_ref().ok_or(EROFS)?;
    let dir = copy_up(parent)?;
    let name = dentry.name()?;
    let caller = Credential::current();
    let new = union
        .creds
        .with_override(|| match dir.lookup_child(&name)? {
            Some(old) if is_whiteout(&old) => {
                make_over_whiteout(upper, &dir, &name, mode, what, &caller)
            }
            Some(_) => Err(EEXIST),
            None => {
                let new = dir.make_child(&name, mode, what)?;
                if let Err(e) = set_owner(&new, &caller, &dir) {
                    let _ = dir.remove_child(&name);
                    return Err(e);
                }
                Ok(new)
            }
        })?;
    parent.refresh_inode();
    entry(union, new)
}

/// `link()`: the new name is another link to the upper copy of `old`, with its data (a metacopy
/// file's data is found by its name).
pub(crate) fn link(
    old: &Dentry<UnionFs>,
    parent: &Dentry<UnionFs>,
    new: &Dentry<UnionFs>,
) -> Result<Entry<UnionFs>> {
    let union = parent.super_data();
    let target = copy_up_data(old)?;
    let dir = copy_up(parent)?;
    let name = new.name()?;
    let path = union.creds.with_override(|| {
        if let Some(existing) = dir.lookup_child(&name)? {
            if !is_whiteout(&existing) {
                return Err(EEXIST);
            }
            dir.remove_child(&name)?;
        }
        dir.link_child(&name, &target)
    })?;
    parent.refresh_inode();
    entry(union, path)
}

/// Returns whether the lower layers have the name of `dentry`, as overlayfs decides where a
/// whiteout is needed: an object without an upper copy is a lower one; otherwise the first lower
/// directory of the parent that has the name decides, a whiteout there meaning no.
fn lower_positive(parent: &Dentry<UnionFs>, dentry: &Dentry<UnionFs>, name: &[u8]) -> Result<bool> {
    let stack = dentry.data().ok_or(ENOENT)?;
    if stack.upper().is_none() {
        return Ok(true);
    }
    let dirs = parent.data().ok_or(ENOENT)?;
    parent.super_data().creds.with_override(|| {
        for dir in dirs.lower_paths() {
            match dir.lookup_child(name) {
                Ok(Some(found)) => return Ok(!is_whiteout(&found)),
                Ok(None) => {}
                Err(e) if e == ENOENT || e.to_errno() == -(bindings::ENAMETOOLONG as i32) => {}
                // Something is there that cannot be looked at.
                Err(_) => return Ok(true),
            }
        }
        Ok(false)
    })
}

/// `unlink()` and `rmdir()`.
pub(crate) fn remove(parent: &Dentry<UnionFs>, dentry: &Dentry<UnionFs>, is_dir: bool) -> Result {
    let union = parent.super_data();
    let upper = union.upper.as_ref().ok_or(EROFS)?;
    let stack = dentry.data().ok_or(ENOENT)?;
    if is_dir && !readdir::is_empty(dentry)? {
        return Err(enotempty());
    }
    let dir = copy_up(parent)?;
    let name = dentry.name()?;
    let lower = lower_positive(parent, dentry, &name)?;
    union.creds.with_override(|| -> Result {
        if stack.upper().is_none() {
            return whiteout(&dir, &name).map(drop);
        }
        if !is_dir && !lower {
            return dir.remove_child(&name);
        }
        // Out of the way into the work directory, in one rename: swapped with a whiteout if
        // the lower layers have the name.
        let temp = temp_name(upper)?;
        let temp = temp.as_bytes();
        if lower {
            whiteout(&upper.work, temp)?;
            if let Err(e) = Path::rename(&upper.work, temp, &dir, &name, bindings::RENAME_EXCHANGE)
            {
                let _ = upper.work.remove_child(temp);
                return Err(e);
            }
        } else {
            Path::rename(&dir, &name, &upper.work, temp, 0)?;
        }
        // What a directory still holds are whiteouts (it shows no entries).
        if is_dir {
            if let Some(gone) = upper.work.lookup_child(temp)? {
                clean_dir(&gone, 0)?;
            }
        }
        upper.work.remove_child(temp)
    })?;
    parent.refresh_inode();
    Ok(())
}

/// `rename()`, with `RENAME_NOREPLACE` or no flag.
pub(crate) fn rename(
    old_parent: &Dentry<UnionFs>,
    old: &Dentry<UnionFs>,
    new_parent: &Dentry<UnionFs>,
    new: &Dentry<UnionFs>,
    flags: u32,
) -> Result {
    let union = old_parent.super_data();
    if flags & !bindings::RENAME_NOREPLACE != 0 {
        return Err(EINVAL);
    }
    let old_stack = old.data().ok_or(ENOENT)?;
    let is_dir = old_stack.top().is_dir();
    if is_dir && old_stack.lower().is_some() {
        return Err(EXDEV);
    }
    if let Some(target) = new.data() {
        if target.top().is_dir() {
            if target.lower().is_some() {
                return Err(EXDEV);
            }
            if !readdir::is_empty(new)? {
                return Err(enotempty());
            }
        }
    }
    // A metacopy file's data is found by its name: it moves with its data.
    let from = copy_up_data(old)?;
    let old_dir = copy_up(old_parent)?;
    let new_dir = copy_up(new_parent)?;
    let (old_name, new_name) = (old.name()?, new.name()?);
    let mut flags = flags;
    if lower_positive(old_parent, old, &old_name)? {
        flags |= bindings::RENAME_WHITEOUT;
    }
    union.creds.with_override(|| -> Result {
        if let Some(existing) = new_dir.lookup_child(&new_name)? {
            if is_whiteout(&existing) {
                // The union shows no object there: replacing the whiteout is no replace. A
                // directory cannot replace it, and hides what it hid by being opaque.
                flags &= !bindings::RENAME_NOREPLACE;
                if is_dir {
                    from.setxattr(XATTR_OPAQUE, b"y", 0)?;
                    new_dir.remove_child(&new_name)?;
                }
            }
        }
        Path::rename(&old_dir, &old_name, &new_dir, &new_name, flags)
    })?;
    old_parent.refresh_inode();
    new_parent.refresh_inode();
    Ok(())
}
