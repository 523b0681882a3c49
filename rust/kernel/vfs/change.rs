// SPDX-License-Identifier: GPL-2.0

//! Changes to the objects of a layer: new names, removals, renames, attributes, extended
//! attributes and file data.
//!
//! A writable stacking filesystem changes its upper layer through these calls. Each takes the
//! locks the VFS requires for it (the parent directory's, both directories' for a rename, the
//! object's for its attributes) and write access to the layer's mount, and releases them before
//! it returns, so no lock is held between calls. The calls act with the current task's
//! credentials: wrap them in [`Credential::with_override`] to act as the mounter.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/namei.h`](srctree/include/linux/namei.h),
//! [`include/linux/xattr.h`](srctree/include/linux/xattr.h)

use super::{inode::Kstat, path::Path};
use crate::{
    bindings,
    cred::Credential,
    error::{code::*, from_err_ptr, to_result, Error, Result},
    ffi::c_int,
    str::{CStr, CString},
};
use core::{mem::MaybeUninit, ptr};

/// Attribute changes, `struct iattr`, as `notify_change()` applies them.
///
/// # Examples
///
/// ```
/// use kernel::{bindings, vfs::{change::SetAttr, inode::Kstat}};
///
/// let mut attr = SetAttr::new();
/// assert!(attr.is_empty());
/// attr.set_mode(0o640);
/// attr.set_size(0);
/// assert!(attr.changes_size() && !attr.is_empty());
/// attr.copy_times(&Kstat::new());
/// attr.set_owner_of(&kernel::cred::Credential::current(), false);
/// ```
#[repr(transparent)]
pub struct SetAttr(bindings::iattr);

impl SetAttr {
    /// No change.
    pub fn new() -> Self {
        // SAFETY: all-zero is a valid `struct iattr` that changes nothing.
        Self(unsafe { MaybeUninit::zeroed().assume_init() })
    }

    /// # Safety
    ///
    /// `ptr` must be a valid `struct iattr` that only the caller uses for `'a`.
    pub(crate) unsafe fn from_raw_mut<'a>(ptr: *mut bindings::iattr) -> &'a mut Self {
        // SAFETY: `Self` is a transparent wrapper; the caller guarantees exclusive validity.
        unsafe { &mut *ptr.cast() }
    }

    /// Returns whether nothing is changed.
    pub fn is_empty(&self) -> bool {
        self.0.ia_valid == 0
    }

    /// Returns whether the size changes (a truncate).
    pub fn changes_size(&self) -> bool {
        self.0.ia_valid & bindings::ATTR_SIZE != 0
    }

    /// Sets the permission bits (and the type bits, which must not change).
    pub fn set_mode(&mut self, mode: u32) {
        self.0.ia_valid |= bindings::ATTR_MODE;
        self.0.ia_mode = mode as _;
    }

    /// Sets the size.
    pub fn set_size(&mut self, size: i64) {
        self.0.ia_valid |= bindings::ATTR_SIZE;
        self.0.ia_size = size;
    }

    /// Sets the mode to that of `stat`.
    pub fn copy_mode(&mut self, stat: &Kstat) {
        self.set_mode(stat.mode());
    }

    /// Sets the owner and group to those of `stat`.
    pub fn copy_owner(&mut self, stat: &Kstat) {
        self.0.ia_valid |= bindings::ATTR_UID | bindings::ATTR_GID;
        self.0.__bindgen_anon_1.ia_uid = stat.raw().uid;
        self.0.__bindgen_anon_2.ia_gid = stat.raw().gid;
    }

    /// Sets the owner to the filesystem user id of `cred`, and the group to its filesystem group
    /// id unless `keep_group` (a new object in a set-group-id directory keeps the directory's).
    pub fn set_owner_of(&mut self, cred: &Credential, keep_group: bool) {
        // SAFETY: `cred` is a valid, immutable `struct cred`.
        let (uid, gid) = unsafe { ((*cred.as_ptr()).fsuid, (*cred.as_ptr()).fsgid) };
        self.0.ia_valid |= bindings::ATTR_UID;
        self.0.__bindgen_anon_1.ia_uid = uid;
        if !keep_group {
            self.0.ia_valid |= bindings::ATTR_GID;
            self.0.__bindgen_anon_2.ia_gid = gid;
        }
    }

    /// Sets the access and modification times to those of `stat`.
    pub fn copy_times(&mut self, stat: &Kstat) {
        self.0.ia_valid |= bindings::ATTR_ATIME
            | bindings::ATTR_MTIME
            | bindings::ATTR_ATIME_SET
            | bindings::ATTR_MTIME_SET;
        self.0.ia_atime = stat.raw().atime;
        self.0.ia_mtime = stat.raw().mtime;
    }

    /// Drops what only makes sense for the stacked object when the change is passed on to the
    /// real one: the stacked file (`ATTR_FILE`), the open that truncates (`ATTR_OPEN`, the real
    /// file was not opened with `O_TRUNC`), and an explicit mode when set-id bits are being
    /// killed (the real filesystem kills them itself).
    pub fn for_real_object(&mut self) {
        let valid = &mut self.0.ia_valid;
        if *valid & (bindings::ATTR_KILL_SUID | bindings::ATTR_KILL_SGID) != 0 {
            *valid &= !bindings::ATTR_MODE;
        }
        *valid &= !(bindings::ATTR_FILE | bindings::ATTR_OPEN);
        self.0.ia_file = ptr::null_mut();
    }
}

impl Default for SetAttr {
    fn default() -> Self {
        Self::new()
    }
}

/// Takes write access to a path's mount for a change, and gives it back when dropped.
struct WriteAccess<'a>(&'a Path);

impl<'a> WriteAccess<'a> {
    fn new(path: &'a Path) -> Result<Self> {
        // SAFETY: the mount is referenced by `path`.
        to_result(unsafe { bindings::mnt_want_write((*path.as_raw()).mnt) })?;
        Ok(Self(path))
    }
}

impl Drop for WriteAccess<'_> {
    fn drop(&mut self) {
        // SAFETY: `new` took write access to this mount.
        unsafe { bindings::mnt_drop_write((*self.0.as_raw()).mnt) };
    }
}

/// The kind of object [`Path::make_child`] makes.
pub enum NewObject<'a> {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link with this target.
    Symlink(&'a CStr),
    /// A device node, fifo or socket (by `mode`'s type bits) with this device number.
    Node(u32),
}

fn name_len(name: &[u8]) -> Result<c_int> {
    c_int::try_from(name.len()).map_err(|_| Error::from_errno(-(bindings::ENAMETOOLONG as c_int)))
}

impl Path {
    fn dentry(&self) -> *mut bindings::dentry {
        // SAFETY: `self` holds a reference to its dentry.
        unsafe { (*self.as_raw()).dentry }
    }

    fn idmap(&self) -> *mut bindings::mnt_idmap {
        // SAFETY: the mount is referenced by `self`.
        unsafe { bindings::mnt_idmap((*self.as_raw()).mnt) }
    }

    /// Makes a path for `dentry`, a referenced positive dentry on this path's mount, taking
    /// over the reference.
    ///
    /// # Safety
    ///
    /// `dentry` must be referenced by the caller, positive and on `self`'s mount.
    unsafe fn sibling(&self, dentry: *mut bindings::dentry) -> Path {
        // SAFETY: the mount is referenced by `self`.
        let mnt = unsafe { bindings::mntget((*self.as_raw()).mnt) };
        // SAFETY: both references are held and the dentry is positive (caller's guarantee).
        unsafe { Path::from_raw_parts(mnt, dentry) }
    }

    /// Runs `f` with this directory locked for changes to its entries and the dentry for `name`
    /// in it (negative if there is no such name), which `f` may keep a reference to.
    fn with_locked_child<R>(
        &self,
        name: &[u8],
        f: impl FnOnce(*mut bindings::inode, *mut bindings::dentry) -> Result<R>,
    ) -> Result<R> {
        let len = name_len(name)?;
        let _write = WriteAccess::new(self)?;
        let dir = self.raw_inode();
        // SAFETY: `dir` is a referenced directory's inode.
        unsafe {
            bindings::inode_lock_nested(dir, bindings::inode_i_mutex_lock_class_I_MUTEX_PARENT)
        };
        // SAFETY: the directory is locked, as `lookup_one()` requires.
        let child = from_err_ptr(unsafe {
            bindings::lookup_one(self.idmap(), name.as_ptr().cast(), self.dentry(), len)
        });
        let ret = child.and_then(|child| {
            let ret = f(dir, child);
            // SAFETY: `lookup_one()` returned a reference; `f` took its own if it keeps one.
            unsafe { bindings::dput(child) };
            ret
        });
        // SAFETY: locked above.
        unsafe { bindings::inode_unlock(dir) };
        ret
    }

    /// Makes a new object `name` in this directory, with the permission bits of `mode` (and
    /// for [`NewObject::Node`], its type bits), as the current task. Fails with `EEXIST` if the
    /// name exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, c_str, vfs::{change::NewObject, FileType, Path}, prelude::*};
    ///
    /// let tmp = Path::lookup(c_str!("/"))?;
    /// let dir = tmp.make_child(b"rust_doctest_change", 0o700, NewObject::Directory)?;
    /// assert!(dir.is_dir() && dir.mode() & 0o777 == 0o700);
    /// let file = dir.make_child(b"file", 0o600, NewObject::File)?;
    /// assert_eq!(file.file_type(), Some(FileType::Regular));
    /// assert_eq!(dir.make_child(b"file", 0o600, NewObject::File).err(), Some(EEXIST));
    /// let link = dir.make_child(b"link", 0o777, NewObject::Symlink(c_str!("file")))?;
    /// assert_eq!(link.file_type(), Some(FileType::Symlink));
    /// assert_eq!(link.link_target()?.as_bytes(), b"file");
    /// let fifo = dir.make_child(b"fifo", 0o600 | bindings::S_IFIFO, NewObject::Node(0))?;
    /// assert_eq!(fifo.file_type(), Some(FileType::Fifo));
    ///
    /// Path::rename(&dir, b"file", &dir, b"moved", 0)?;
    /// let hard = dir.link_child(b"hard", &file)?;
    /// assert_eq!(hard.ino(), file.ino());
    /// assert_eq!(dir.link_child(b"hard", &file).err(), Some(EEXIST));
    /// dir.remove_child(b"hard")?;
    /// assert!(file.same(&dir.lookup_child(b"moved")?.ok_or(ENOENT)?));
    /// assert!(dir.lookup_child(b"file")?.is_none());
    /// for name in [&b"moved"[..], b"link", b"fifo"] {
    ///     dir.remove_child(name)?;
    /// }
    /// assert_eq!(dir.remove_child(b"moved").err(), Some(ENOENT));
    /// tmp.remove_child(b"rust_doctest_change")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn make_child(&self, name: &[u8], mode: u32, what: NewObject<'_>) -> Result<Path> {
        self.with_locked_child(name, |dir, child| {
            // SAFETY: `child` is a referenced dentry.
            if !unsafe { (*child).d_inode }.is_null() {
                return Err(EEXIST);
            }
            let perm = mode & 0o7777;
            let idmap = self.idmap();
            // SAFETY: `dir` is locked and `child` is a negative dentry in it; these are the
            // calls `open(O_CREAT)`, `mkdir()`, `symlink()` and `mknod()` make.
            to_result(unsafe {
                match what {
                    NewObject::File => bindings::vfs_create(
                        idmap,
                        dir,
                        child,
                        (perm | bindings::S_IFREG) as _,
                        true,
                    ),
                    NewObject::Directory => bindings::vfs_mkdir(idmap, dir, child, perm as _),
                    NewObject::Symlink(target) => {
                        bindings::vfs_symlink(idmap, dir, child, target.as_char_ptr())
                    }
                    NewObject::Node(dev) => {
                        bindings::vfs_mknod(idmap, dir, child, (mode & !0o7777 | perm) as _, dev)
                    }
                }
            })?;
            // A filesystem may leave the dentry negative and hashed on success (kernfs does):
            // then it cannot be used.
            // SAFETY: `child` is referenced.
            if unsafe { (*child).d_inode }.is_null() {
                return Err(EIO);
            }
            // SAFETY: `child` is referenced and positive; take a reference for the new path.
            Ok(unsafe { self.sibling(bindings::dget(child)) })
        })
    }

    /// Makes `name` in this directory a new hard link to `target`, as the current task; returns
    /// the new name's path (the same object as `target`).
    pub fn link_child(&self, name: &[u8], target: &Path) -> Result<Path> {
        if !self.same_mount(target) {
            return Err(EXDEV);
        }
        self.with_locked_child(name, |dir, child| {
            // SAFETY: `child` is referenced.
            if !unsafe { (*child).d_inode }.is_null() {
                return Err(EEXIST);
            }
            // SAFETY: `dir` is locked, `child` a negative dentry in it and `target` referenced.
            to_result(unsafe {
                bindings::vfs_link(target.dentry(), self.idmap(), dir, child, ptr::null_mut())
            })?;
            // SAFETY: `child` is referenced.
            if unsafe { (*child).d_inode }.is_null() {
                return Err(EIO);
            }
            // SAFETY: `child` is referenced and positive; take a reference for the new path.
            Ok(unsafe { self.sibling(bindings::dget(child)) })
        })
    }

    /// The target of this symbolic link, as the current task.
    pub fn link_target(&self) -> Result<CString> {
        // SAFETY: all-zero is a valid, empty `delayed_call`.
        let mut done: bindings::delayed_call = unsafe { MaybeUninit::zeroed().assume_init() };
        // SAFETY: `self` is a referenced dentry; `vfs_get_link()` checks that it is a symbolic
        // link and returns its target, valid until `done` is called, or an error.
        let target =
            from_err_ptr(unsafe { bindings::vfs_get_link(self.dentry(), &mut done) }.cast_mut())?;
        // SAFETY: `target` is a C string valid until `done` is called below.
        let copy = CString::try_from(unsafe { CStr::from_char_ptr(target) });
        // SAFETY: releases what `vfs_get_link()` handed out, once.
        unsafe { bindings::do_delayed_call(&mut done) };
        Ok(copy?)
    }

    /// Removes `name` from this directory (with `rmdir()` if it is a directory, which must be
    /// empty, `unlink()` otherwise), as the current task.
    pub fn remove_child(&self, name: &[u8]) -> Result {
        self.with_locked_child(name, |dir, child| {
            // SAFETY: `child` is referenced.
            let inode = unsafe { (*child).d_inode };
            if inode.is_null() {
                return Err(ENOENT);
            }
            // SAFETY: `dir` is locked and `child` a positive dentry in it.
            to_result(unsafe {
                if u32::from((*inode).i_mode) & bindings::S_IFMT == bindings::S_IFDIR {
                    bindings::vfs_rmdir(self.idmap(), dir, child)
                } else {
                    bindings::vfs_unlink(self.idmap(), dir, child, ptr::null_mut())
                }
            })
        })
    }

    /// Renames `old_name` in `old_dir` to `new_name` in `new_dir`, replacing what is there as
    /// `rename()` does, as the current task, with `renameat2()`'s `flags` (`RENAME_NOREPLACE`,
    /// `RENAME_EXCHANGE`, `RENAME_WHITEOUT`). Both directories must be on one mount.
    pub fn rename(
        old_dir: &Path,
        old_name: &[u8],
        new_dir: &Path,
        new_name: &[u8],
        flags: u32,
    ) -> Result {
        if !old_dir.same_mount(new_dir) {
            return Err(EXDEV);
        }
        let (old_len, new_len) = (name_len(old_name)?, name_len(new_name)?);
        let _write = WriteAccess::new(old_dir)?;
        // SAFETY: both dentries are referenced directories; `lock_rename()` locks both (or
        // returns an error) and returns the common ancestor of the two, if any.
        let trap =
            from_err_ptr(unsafe { bindings::lock_rename(new_dir.dentry(), old_dir.dentry()) })?;
        let ret = (|| {
            // SAFETY: `old_dir` is locked.
            let old = from_err_ptr(unsafe {
                bindings::lookup_one(
                    old_dir.idmap(),
                    old_name.as_ptr().cast(),
                    old_dir.dentry(),
                    old_len,
                )
            })?;
            // SAFETY: `new_dir` is locked.
            let new = from_err_ptr(unsafe {
                bindings::lookup_one(
                    new_dir.idmap(),
                    new_name.as_ptr().cast(),
                    new_dir.dentry(),
                    new_len,
                )
            });
            let ret = new.and_then(|new| {
                // SAFETY: `old` and `new` are referenced dentries in the locked directories.
                let ret = unsafe {
                    if (*old).d_inode.is_null() {
                        Err(ENOENT)
                    } else if old == trap || new == trap {
                        // An ancestor of one directory cannot move into, or be replaced by, the
                        // other.
                        Err(EINVAL)
                    } else {
                        let mut rd = bindings::renamedata {
                            old_mnt_idmap: old_dir.idmap(),
                            old_dir: old_dir.raw_inode(),
                            old_dentry: old,
                            new_mnt_idmap: new_dir.idmap(),
                            new_dir: new_dir.raw_inode(),
                            new_dentry: new,
                            delegated_inode: ptr::null_mut(),
                            flags,
                        };
                        to_result(bindings::vfs_rename(&mut rd))
                    }
                };
                // SAFETY: the reference from `lookup_one()` above.
                unsafe { bindings::dput(new) };
                ret
            });
            // SAFETY: the reference from `lookup_one()` above.
            unsafe { bindings::dput(old) };
            ret
        })();
        // SAFETY: locked above by `lock_rename()` with the same arguments.
        unsafe { bindings::unlock_rename(new_dir.dentry(), old_dir.dentry()) };
        ret
    }

    /// Changes attributes, as the current task, the way `chmod()`, `chown()`, `utimes()` and
    /// `truncate()` do, without their permission checks (the caller has made its own).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, c_str, vfs::{change::*, inode::Kstat, Path}, prelude::*};
    ///
    /// let tmp = Path::lookup(c_str!("/"))?;
    /// let file = tmp.make_child(b"rust_doctest_setattr", 0o600, NewObject::File)?;
    /// let mut attr = SetAttr::new();
    /// attr.set_mode(bindings::S_IFREG | 0o640);
    /// attr.set_size(4096);
    /// file.setattr(&mut attr)?;
    /// let mut stat = Kstat::new();
    /// file.getattr(&mut stat, bindings::STATX_BASIC_STATS, 0)?;
    /// assert_eq!((stat.mode() & 0o777, stat.size()), (0o640, 4096));
    ///
    /// // The root filesystem at boot may have no extended attributes.
    /// let name = c_str!("trusted.rust_doctest");
    /// match file.setxattr(name, b"v", 0) {
    ///     Err(e) if e.to_errno() == -(bindings::EOPNOTSUPP as i32) => (),
    ///     set => {
    ///         set?;
    ///         let mut buf = [0u8; 256];
    ///         let len = file.listxattr(&mut buf)?;
    ///         assert!(buf[..len].split(|&b| b == 0).any(|n| n == name.as_bytes()));
    ///         // An empty buffer asks for the sizes.
    ///         assert_eq!(file.listxattr(&mut [])?, len);
    ///         assert_eq!(file.getxattr(name, &mut [])?, 1);
    ///         file.removexattr(name)?;
    ///         let gone = file.getxattr(name, &mut buf).err().map(|e| e.to_errno());
    ///         assert_eq!(gone, Some(-(bindings::ENODATA as i32)));
    ///     }
    /// }
    /// tmp.remove_child(b"rust_doctest_setattr")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn setattr(&self, attr: &mut SetAttr) -> Result {
        if attr.is_empty() {
            return Ok(());
        }
        let _write = WriteAccess::new(self)?;
        let inode = self.raw_inode();
        let size = attr.changes_size();
        if size {
            // A file being executed must not be truncated.
            // SAFETY: `inode` is referenced.
            to_result(unsafe { bindings::get_write_access(inode) })?;
        }
        // SAFETY: `inode` is the dentry's, locked as `notify_change()` requires; `attr` is valid.
        let ret = unsafe {
            bindings::inode_lock(inode);
            let ret =
                bindings::notify_change(self.idmap(), self.dentry(), &mut attr.0, ptr::null_mut());
            bindings::inode_unlock(inode);
            ret
        };
        if size {
            // SAFETY: taken above.
            unsafe { bindings::put_write_access(inode) };
        }
        to_result(ret)
    }

    /// Sets the extended attribute `name` to `value`, as the current task (`flags` is
    /// `XATTR_CREATE`, `XATTR_REPLACE` or 0).
    pub fn setxattr(&self, name: &CStr, value: &[u8], flags: u32) -> Result {
        let _write = WriteAccess::new(self)?;
        // SAFETY: `self` is referenced, `name` a C string and `value` readable for its length.
        to_result(unsafe {
            bindings::vfs_setxattr(
                self.idmap(),
                self.dentry(),
                name.as_char_ptr(),
                value.as_ptr().cast(),
                value.len(),
                flags as c_int,
            )
        })
    }

    /// Removes the extended attribute `name`, as the current task.
    pub fn removexattr(&self, name: &CStr) -> Result {
        let _write = WriteAccess::new(self)?;
        // SAFETY: `self` is referenced and `name` a C string.
        to_result(unsafe {
            bindings::vfs_removexattr(self.idmap(), self.dentry(), name.as_char_ptr())
        })
    }

    /// Lists the extended attribute names into `buf`, each followed by a NUL byte, and returns
    /// the length used; an empty `buf` returns the length needed, a too-small one `ERANGE`.
    pub fn listxattr(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `self` is referenced; `buf` is writable for its length.
        let ret = unsafe {
            bindings::vfs_listxattr(self.dentry(), super::path::buf_ptr(buf).cast(), buf.len())
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as c_int));
        }
        Ok(ret as usize)
    }

    /// Copies the first `len` bytes of this regular file into `dst`, a regular file, opening
    /// both with `cred`.
    ///
    /// The copy goes in chunks; a fatal signal stops it between two with `EINTR`, leaving `dst`
    /// partly written. A complete copy is then synced to `dst`'s device (`vfs_fsync()`), as
    /// overlayfs syncs its copy-ups: a write error of the device shows here, while `dst` can
    /// still be discarded, not at some later writeback.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, cred::Credential, vfs::{change::*, Path}, prelude::*};
    ///
    /// let tmp = Path::lookup(c_str!("/"))?;
    /// let a = tmp.make_child(b"rust_doctest_copy_a", 0o600, NewObject::File)?;
    /// let b = tmp.make_child(b"rust_doctest_copy_b", 0o600, NewObject::File)?;
    /// let mut attr = SetAttr::new();
    /// attr.set_size(3 << 20);
    /// a.setattr(&mut attr)?;
    /// a.copy_data(&b, a.size(), &Credential::current())?;
    /// assert_eq!(b.size(), 3 << 20);
    /// tmp.remove_child(b"rust_doctest_copy_a")?;
    /// tmp.remove_child(b"rust_doctest_copy_b")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn copy_data(&self, dst: &Path, len: i64, cred: &Credential) -> Result {
        const CHUNK: i64 = 1 << 20;
        let open = |path: &Path, flags: u32| {
            // SAFETY: `path` is referenced and `cred` valid; the file takes its own references.
            from_err_ptr(unsafe {
                bindings::dentry_open(path.as_raw(), flags as c_int, cred.as_ptr())
            })
        };
        let src = open(self, bindings::O_RDONLY | bindings::O_LARGEFILE)?;
        let ret = open(dst, bindings::O_WRONLY | bindings::O_LARGEFILE).and_then(|out| {
            let (mut in_pos, mut out_pos) = (0i64, 0i64);
            let mut ret = Ok(());
            while in_pos < len {
                // SAFETY: `get_current()` is always valid in process context.
                if unsafe { bindings::fatal_signal_pending(bindings::get_current()) } {
                    ret = Err(EINTR);
                    break;
                }
                let this = core::cmp::min(CHUNK, len - in_pos) as usize;
                // SAFETY: both files are open, `src` for reading and `out` for writing; the
                // positions are ours.
                let done = unsafe {
                    let err = bindings::rw_verify_area(bindings::READ as c_int, src, &in_pos, this);
                    if err != 0 {
                        err as isize
                    } else {
                        let err =
                            bindings::rw_verify_area(bindings::WRITE as c_int, out, &out_pos, this);
                        if err != 0 {
                            err as isize
                        } else {
                            bindings::do_splice_direct(
                                src,
                                &mut in_pos,
                                out,
                                &mut out_pos,
                                this,
                                bindings::SPLICE_F_MOVE,
                            )
                        }
                    }
                };
                if done < 0 {
                    ret = Err(Error::from_errno(done as c_int));
                    break;
                }
                if done == 0 {
                    // The source shrank under us: what is copied is what there is.
                    break;
                }
            }
            if ret.is_ok() {
                // SAFETY: `out` is open.
                ret = to_result(unsafe { bindings::vfs_fsync(out, 0) });
            }
            // SAFETY: opened above, not used after.
            unsafe { bindings::fput(out) };
            ret
        });
        // SAFETY: opened above, not used after.
        unsafe { bindings::fput(src) };
        ret
    }
}
