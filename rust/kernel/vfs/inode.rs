// SPDX-License-Identifier: GPL-2.0

//! Inodes of a stacking filesystem and their operations.
//!
//! Every positive dentry gets an inode of its own, made by the lookup that found it, with the
//! type, permissions, owner, size and times of its real path ([`FileSystem::real`]), which the
//! VFS checks permissions against. Inodes are not looked up by number, and are freed with their
//! dentry.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::{
    backing_file::FileOps,
    change::{NewObject, SetAttr},
    dentry::{self, Dentry},
    dir::DirOps,
    filesystem::err_ptr,
    path::FileType,
    watch::{self, Watched},
    xattr, Entry, FileSystem,
};
use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{code::*, from_result, Result},
    ffi::{c_char, c_int, c_uint},
    str::CStr,
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// File attributes, `struct kstat`, as `stat()` reports them.
///
/// # Examples
///
/// ```
/// use kernel::{bindings, c_str, vfs::{inode::Kstat, Path}, prelude::*};
///
/// let root = Path::lookup(c_str!("/"))?;
/// let mut stat = Kstat::new();
/// root.getattr(&mut stat, bindings::STATX_BASIC_STATS, 0)?;
/// assert_eq!(stat.ino(), root.ino());
/// assert_eq!(stat.dev(), root.fs_dev());
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct Kstat(bindings::kstat);

impl Kstat {
    /// Empty attributes, to be filled by [`Path::getattr`](super::Path::getattr).
    pub fn new() -> Self {
        // SAFETY: all-zero is a valid `struct kstat`.
        Self(unsafe { MaybeUninit::zeroed().assume_init() })
    }

    /// # Safety
    ///
    /// `ptr` must be a valid `struct kstat` that only the caller uses for `'a`.
    pub(crate) unsafe fn from_raw_mut<'a>(ptr: *mut bindings::kstat) -> &'a mut Self {
        // SAFETY: `Self` is a transparent wrapper; the caller guarantees exclusive validity.
        unsafe { &mut *ptr.cast() }
    }

    pub(crate) fn as_raw_mut(&mut self) -> *mut bindings::kstat {
        &mut self.0
    }

    /// `st_dev`: the device number of the filesystem.
    pub fn dev(&self) -> u32 {
        self.0.dev
    }

    /// Sets `st_dev`.
    pub fn set_dev(&mut self, dev: u32) {
        self.0.dev = dev;
    }

    /// `st_ino`: the inode number.
    pub fn ino(&self) -> u64 {
        self.0.ino
    }

    /// Sets `st_ino`.
    pub fn set_ino(&mut self, ino: u64) {
        self.0.ino = ino;
    }

    /// `st_nlink`: the number of links.
    pub fn nlink(&self) -> u32 {
        self.0.nlink
    }

    /// Sets `st_nlink`, the number of links.
    pub fn set_nlink(&mut self, nlink: u32) {
        self.0.nlink = nlink;
    }

    /// `st_mode`: the type and permissions.
    pub fn mode(&self) -> u32 {
        u32::from(self.0.mode)
    }

    /// `st_size`: the size in bytes.
    pub fn size(&self) -> i64 {
        self.0.size
    }

    /// `st_blocks`: the 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.0.blocks
    }

    /// Sets `st_blocks`.
    pub fn set_blocks(&mut self, blocks: u64) {
        self.0.blocks = blocks;
    }

    pub(crate) fn raw(&self) -> &bindings::kstat {
        &self.0
    }
}

impl Default for Kstat {
    fn default() -> Self {
        Self::new()
    }
}

/// Returns a new inode number from the kernel's shared counter, for inodes that have no number
/// of their own; numbers repeat only after 2^32 of them.
pub fn next_ino() -> u64 {
    // SAFETY: `get_next_ino()` has no preconditions.
    u64::from(unsafe { bindings::get_next_ino() })
}

/// Makes a new inode of `sb` numbered `ino` for a dentry that will keep `data`: it looks like
/// the real path of `data`, has the operations of its type and watches what `T` says.
///
/// # Safety
///
/// `sb` must be a super block of type `T` that is being set up or is set up.
pub(crate) unsafe fn new_inode<T: FileSystem>(
    sb: *mut bindings::super_block,
    data: &T::Dentry,
    ino: u64,
) -> Result<*mut bindings::inode> {
    let watched = Watched::of::<T>(data)?;
    let real = T::real(data);
    // SAFETY: `sb` is valid (caller's guarantee).
    let inode = unsafe { bindings::new_inode(sb) };
    if inode.is_null() {
        return Err(ENOMEM);
    }
    let src = real.raw_inode();
    // SAFETY: `inode` is new and only ours; `src` is valid while `real` references it. The
    // super block's `free_inode` frees what `watch::set` keeps.
    unsafe {
        watch::set(inode, watched);
        (*inode).i_ino = ino as _;
        bindings::fsstack_copy_attr_all(inode, src);
        bindings::fsstack_copy_inode_size(inode, src);
    }
    let mode = real.mode();
    // SAFETY: as above; the operation tables are `'static`.
    unsafe {
        match FileType::from_mode(mode) {
            Some(FileType::Directory) => {
                (*inode).i_op = &InodeOps::<T>::DIR;
                (*inode).__bindgen_anon_3.i_fop = &DirOps::<T>::OPS;
            }
            Some(FileType::Regular) => {
                (*inode).i_op = &InodeOps::<T>::FILE;
                (*inode).__bindgen_anon_3.i_fop = &FileOps::<T>::OPS;
            }
            Some(FileType::Symlink) => (*inode).i_op = &InodeOps::<T>::SYMLINK,
            _ => {
                (*inode).i_op = &InodeOps::<T>::FILE;
                bindings::init_special_inode(inode, mode as _, real.rdev());
            }
        }
    }
    Ok(inode)
}

/// The inode operations of a filesystem of type `T`, by type of file.
pub(crate) struct InodeOps<T>(PhantomData<T>);

impl<T: FileSystem> InodeOps<T> {
    const DIR: bindings::inode_operations = bindings::inode_operations {
        lookup: Some(lookup::<T>),
        create: Some(create::<T>),
        mkdir: Some(mkdir::<T>),
        symlink: Some(symlink::<T>),
        mknod: Some(mknod::<T>),
        link: Some(link::<T>),
        unlink: Some(unlink::<T>),
        rmdir: Some(rmdir::<T>),
        rename: Some(rename::<T>),
        getattr: Some(getattr::<T>),
        setattr: Some(setattr::<T>),
        listxattr: Some(xattr::list::<T>),
        // SAFETY: all-zero is valid for the remaining operations: absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    /// Regular files and special files.
    const FILE: bindings::inode_operations = bindings::inode_operations {
        getattr: Some(getattr::<T>),
        setattr: Some(setattr::<T>),
        listxattr: Some(xattr::list::<T>),
        // SAFETY: all-zero is valid for the remaining operations: absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    const SYMLINK: bindings::inode_operations = bindings::inode_operations {
        get_link: Some(get_link::<T>),
        getattr: Some(getattr::<T>),
        setattr: Some(setattr::<T>),
        listxattr: Some(xattr::list::<T>),
        // SAFETY: all-zero is valid for the remaining operations: absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// # Safety
///
/// Called by the VFS with a directory of type `T` and a new dentry in it, the directory locked.
unsafe extern "C" fn lookup<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: the parent of a dentry being looked up is referenced and stable.
    let parent = unsafe { Dentry::<T>::from_raw((*dentry).d_parent) };
    // SAFETY: the name of a dentry being looked up does not change; `len` is the high half of
    // `hash_len`.
    let name = unsafe {
        let qstr = &(*dentry).d_name;
        let len = qstr.__bindgen_anon_1.__bindgen_anon_1.len as usize;
        core::slice::from_raw_parts(qstr.name, len)
    };
    // SAFETY: `dir` is referenced while a name is looked up in it. The stamp is taken before
    // the layers are read, so that a change made while they are read shows in the next check.
    let stamp = unsafe { watch::parent_stamp(dir) };
    let entry = match T::lookup(parent, name) {
        Ok(entry) => entry,
        Err(e) => return err_ptr(e),
    };
    let inode = match entry {
        None => core::ptr::null_mut(),
        Some(entry) => {
            let data = match KBox::new(entry.data, GFP_KERNEL) {
                Ok(data) => data,
                Err(e) => return err_ptr(e.into()),
            };
            // SAFETY: the dentry's super block is set up and of type `T`.
            let inode = match unsafe { new_inode::<T>((*dentry).d_sb, &data, entry.ino) } {
                Ok(inode) => inode,
                Err(e) => return err_ptr(e),
            };
            // SAFETY: the dentry is being looked up by us and is not visible yet.
            unsafe { dentry::set_data::<T>(dentry, data) };
            inode
        }
    };
    // SAFETY: `dentry` is not visible yet and `inode` is new or null.
    unsafe { watch::set_stamp(dentry, inode, stamp) };
    // SAFETY: `dentry` is the dentry being looked up and `inode` a new inode or null;
    // `d_splice_alias()` takes the inode's reference, also on failure.
    unsafe { bindings::d_splice_alias(inode, dentry) }
}

/// # Safety
///
/// Called by the VFS for `stat()` with a referenced path of type `T`.
unsafe extern "C" fn getattr<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    path: *const bindings::path,
    stat: *mut bindings::kstat,
    request_mask: u32,
    flags: c_uint,
) -> c_int {
    // SAFETY: the path's dentry is referenced by the caller, and `stat` is the caller's.
    let (dentry, stat) = unsafe {
        (
            Dentry::<T>::from_raw((*path).dentry),
            Kstat::from_raw_mut(stat),
        )
    };
    match T::getattr(dentry, stat, request_mask, flags) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Makes `dentry`, a negative dentry that the filesystem just made an object for, positive.
///
/// # Safety
///
/// `dentry` must be a referenced negative dentry of a set-up super block of `T`, its parent
/// locked by the caller.
unsafe fn instantiate<T: FileSystem>(dentry: *mut bindings::dentry, entry: Entry<T>) -> Result {
    let data = KBox::new(entry.data, GFP_KERNEL)?;
    // SAFETY: the dentry's super block is set up and of type `T`.
    let inode = unsafe { new_inode::<T>((*dentry).d_sb, &data, entry.ino)? };
    // SAFETY: the caller's guarantees.
    if let Err(e) = unsafe { dentry::publish_data::<T>(dentry, data) } {
        // SAFETY: the new inode is ours alone.
        unsafe { bindings::iput(inode) };
        return Err(e);
    }
    // SAFETY: `dentry` is negative and `inode` new; `d_instantiate()` takes its reference.
    unsafe { bindings::d_instantiate(dentry, inode) };
    Ok(())
}

/// Calls [`FileSystem::make`] for a new object of `dentry` and instantiates it.
///
/// # Safety
///
/// Called from the VFS's directory operations with a negative dentry of `T`, its parent locked.
unsafe fn make<T: FileSystem>(
    dentry: *mut bindings::dentry,
    mode: u32,
    what: NewObject<'_>,
) -> c_int {
    from_result(|| {
        // SAFETY: the dentry and its parent (stable while the parent is locked) are referenced.
        let (parent, new) = unsafe {
            (
                Dentry::<T>::from_raw((*dentry).d_parent),
                Dentry::<T>::from_raw(dentry),
            )
        };
        let entry = T::make(parent, new, mode, what)?;
        // SAFETY: as above.
        unsafe { instantiate::<T>(dentry, entry)? };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a locked directory of `T` and a negative dentry in it.
unsafe extern "C" fn create<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    _dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
    _excl: bool,
) -> c_int {
    // SAFETY: the VFS's guarantees.
    unsafe { make::<T>(dentry, u32::from(mode), NewObject::File) }
}

/// # Safety
///
/// Called by the VFS with a locked directory of `T` and a negative dentry in it.
unsafe extern "C" fn mkdir<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    _dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
) -> c_int {
    // SAFETY: the VFS's guarantees.
    unsafe { make::<T>(dentry, u32::from(mode), NewObject::Directory) }
}

/// # Safety
///
/// Called by the VFS with a locked directory of `T`, a negative dentry in it and the target.
unsafe extern "C" fn symlink<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    _dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    target: *const c_char,
) -> c_int {
    // SAFETY: `target` is a C string the VFS keeps for the call.
    let target = unsafe { CStr::from_char_ptr(target) };
    // SAFETY: the VFS's guarantees.
    unsafe { make::<T>(dentry, 0o777, NewObject::Symlink(target)) }
}

/// # Safety
///
/// Called by the VFS with a locked directory of `T` and a negative dentry in it.
unsafe extern "C" fn mknod<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    _dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
    dev: bindings::dev_t,
) -> c_int {
    // SAFETY: the VFS's guarantees.
    unsafe { make::<T>(dentry, u32::from(mode), NewObject::Node(dev)) }
}

/// # Safety
///
/// Called by the VFS with a referenced dentry of `T`, a locked directory and a negative dentry
/// in it.
unsafe extern "C" fn link<T: FileSystem>(
    old: *mut bindings::dentry,
    _dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: the dentries are referenced, the new one's parent stable while locked.
        let (old, parent, new) = unsafe {
            (
                Dentry::<T>::from_raw(old),
                Dentry::<T>::from_raw((*dentry).d_parent),
                Dentry::<T>::from_raw(dentry),
            )
        };
        let entry = T::link(old, parent, new)?;
        old.refresh_inode();
        // SAFETY: as above.
        unsafe { instantiate::<T>(dentry, entry)? };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a locked directory of `T` and a positive dentry in it, locked too.
unsafe fn remove<T: FileSystem>(dentry: *mut bindings::dentry, is_dir: bool) -> c_int {
    from_result(|| {
        // SAFETY: the dentry and its parent (stable while locked) are referenced.
        let (parent, d) = unsafe {
            (
                Dentry::<T>::from_raw((*dentry).d_parent),
                Dentry::<T>::from_raw(dentry),
            )
        };
        T::remove(parent, d, is_dir)?;
        // The data shows what is gone: the name is looked up afresh next time, and the
        // dentry never becomes positive again.
        // SAFETY: the dentry is referenced.
        unsafe { bindings::d_drop(dentry) };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS for `unlink()` with a locked directory of `T` and a dentry in it.
unsafe extern "C" fn unlink<T: FileSystem>(
    _dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    // SAFETY: the VFS's guarantees.
    unsafe { remove::<T>(dentry, false) }
}

/// # Safety
///
/// Called by the VFS for `rmdir()` with a locked directory of `T` and a dentry in it.
unsafe extern "C" fn rmdir<T: FileSystem>(
    _dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    // SAFETY: the VFS's guarantees.
    unsafe { remove::<T>(dentry, true) }
}

/// # Safety
///
/// Called by the VFS with both directories of `T` locked (`lock_rename()`) and their dentries.
unsafe extern "C" fn rename<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    _old_dir: *mut bindings::inode,
    old: *mut bindings::dentry,
    _new_dir: *mut bindings::inode,
    new: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        // SAFETY: the dentries are referenced and their parents stable while locked.
        let (old_parent, old_d, new_parent, new_d) = unsafe {
            (
                Dentry::<T>::from_raw((*old).d_parent),
                Dentry::<T>::from_raw(old),
                Dentry::<T>::from_raw((*new).d_parent),
                Dentry::<T>::from_raw(new),
            )
        };
        T::rename(old_parent, old_d, new_parent, new_d, flags)?;
        old_d.refresh_inode();
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with the inode of a referenced dentry of type `T` locked, to change its
/// attributes.
unsafe extern "C" fn setattr<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    attr: *mut bindings::iattr,
) -> c_int {
    // SAFETY: the caller passes valid arguments; `setattr_prepare()` checks the change against
    // the stacked inode's owner and permissions as the current task.
    let err = unsafe { bindings::setattr_prepare(idmap, dentry, attr) };
    if err != 0 {
        return err;
    }
    // SAFETY: the dentry is referenced by the caller, and `attr` is the caller's, for this call.
    let (dentry, attr) = unsafe { (Dentry::<T>::from_raw(dentry), SetAttr::from_raw_mut(attr)) };
    match T::setattr(dentry, attr) {
        Ok(()) => {
            dentry.refresh_inode();
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS to follow a symbolic link of type `T`; `dentry` is null in RCU walk.
unsafe extern "C" fn get_link<T: FileSystem>(
    dentry: *mut bindings::dentry,
    _inode: *mut bindings::inode,
    done: *mut bindings::delayed_call,
) -> *const c_char {
    if dentry.is_null() {
        return err_ptr(ECHILD);
    }
    // SAFETY: outside RCU walk the VFS holds a reference to the dentry.
    let dentry = unsafe { Dentry::<T>::from_raw(dentry) };
    let Some(data) = dentry.data() else {
        return err_ptr(ENOENT);
    };
    let real = T::real(data);
    T::creds(dentry.super_data()).with_override(|| {
        // SAFETY: the real dentry is referenced by `real`; `vfs_get_link()` returns the target
        // with `done` set to release it, or an error pointer.
        unsafe { bindings::vfs_get_link((*real.as_raw()).dentry, done) }
    })
}
