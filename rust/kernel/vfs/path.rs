// SPDX-License-Identifier: GPL-2.0

//! Paths: a dentry seen through a mount.
//!
//! A stacking filesystem keeps the objects it shows as paths in the filesystems below it (its
//! layers), and calls into those filesystems through them: it finds a layer by name
//! ([`Path::lookup`]), looks up names in a layer directory ([`Path::lookup_child`]), reads a
//! layer object's attributes, extended attributes and directory entries. Such calls are made
//! with the current task's credentials; a filesystem that acts as its mounter wraps them in
//! [`Credential::with_override`](crate::cred::Credential::with_override).
//!
//! C header: [`include/linux/path.h`](srctree/include/linux/path.h)

use super::inode::Kstat;
use crate::{
    bindings,
    cred::Credential,
    error::{from_err_ptr, to_result, Error, Result},
    ffi::{c_char, c_int, c_uint},
    str::CStr,
};
use core::{mem::MaybeUninit, ptr};

/// The type of a file, as `stat()`'s `st_mode` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A character device; a union's whiteout is one with device number 0/0.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A socket.
    Socket,
}

impl FileType {
    /// The type of an `st_mode`, if it names one.
    pub fn from_mode(mode: u32) -> Option<Self> {
        Some(match mode & bindings::S_IFMT {
            bindings::S_IFREG => Self::Regular,
            bindings::S_IFDIR => Self::Directory,
            bindings::S_IFLNK => Self::Symlink,
            bindings::S_IFCHR => Self::CharDevice,
            bindings::S_IFBLK => Self::BlockDevice,
            bindings::S_IFIFO => Self::Fifo,
            bindings::S_IFSOCK => Self::Socket,
            _ => return None,
        })
    }

    /// The directory entry type (`DT_*`) of files of this type.
    pub fn dir_type(self) -> u32 {
        match self {
            Self::Regular => bindings::DT_REG,
            Self::Directory => bindings::DT_DIR,
            Self::Symlink => bindings::DT_LNK,
            Self::CharDevice => bindings::DT_CHR,
            Self::BlockDevice => bindings::DT_BLK,
            Self::Fifo => bindings::DT_FIFO,
            Self::Socket => bindings::DT_SOCK,
        }
    }
}

/// A reference to a positive dentry and the mount it is seen through, `struct path`.
///
/// # Invariants
///
/// `self.0` holds a reference to its mount and to its dentry, and the dentry has an inode. The
/// inode cannot go away while the dentry is referenced, even if the name is removed.
pub struct Path(bindings::path);

// SAFETY: the references a `Path` holds may be dropped on any thread, and what it reads of the
// dentry and inode is either immutable while referenced or read with the accessors the kernel
// provides for concurrent readers.
unsafe impl Send for Path {}

// SAFETY: see `Send`; shared references only read.
unsafe impl Sync for Path {}

impl Path {
    /// Resolves `name` as a path name of the current task, following symbolic links.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, vfs::Path, prelude::*};
    ///
    /// let root = Path::lookup(c_str!("/"))?;
    /// assert!(root.is_dir());
    /// assert!(root.same(&root.clone()) && root.same_mount(&root.clone()));
    /// assert!(root.is_within(&root));
    /// assert!(!root.is_read_only_mount());
    /// assert_eq!(Path::lookup(c_str!("/no/such/name")).err(), Some(ENOENT));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn lookup(name: &CStr) -> Result<Self> {
        let mut path = MaybeUninit::<bindings::path>::uninit();
        // SAFETY: `name` is a valid C string and `path` is written on success.
        to_result(unsafe {
            bindings::kern_path(
                name.as_char_ptr(),
                bindings::LOOKUP_FOLLOW,
                path.as_mut_ptr(),
            )
        })?;
        // SAFETY: `kern_path()` succeeded, so `path` holds references to a mount and a dentry.
        let path = unsafe { path.assume_init() };
        // SAFETY: `path.dentry` is valid while referenced.
        if unsafe { (*path.dentry).d_inode }.is_null() {
            // SAFETY: the references are ours to drop.
            unsafe { bindings::path_put(&path) };
            return Err(crate::error::code::ENOENT);
        }
        // INVARIANT: the path holds references and its dentry is positive.
        Ok(Self(path))
    }

    /// Looks `name` up in this directory, as the current task.
    ///
    /// Returns `None` if there is no such name; a name that is not a valid single component
    /// gives `EINVAL` or `ENAMETOOLONG`, as `lookup_one()` does.
    pub fn lookup_child(&self, name: &[u8]) -> Result<Option<Self>> {
        let len = c_int::try_from(name.len())
            .map_err(|_| Error::from_errno(-(bindings::ENAMETOOLONG as c_int)))?;
        // SAFETY: `self.0` is valid (type invariant); `lookup_one_unlocked()` takes the
        // directory's lock itself and returns a new reference or an error.
        let dentry = from_err_ptr(unsafe {
            bindings::lookup_one_unlocked(
                bindings::mnt_idmap(self.0.mnt),
                name.as_ptr(),
                self.0.dentry,
                len,
            )
        })?;
        // SAFETY: `dentry` is a valid dentry we hold a reference to.
        if unsafe { (*dentry).d_inode }.is_null() {
            // SAFETY: the reference is ours to drop.
            unsafe { bindings::dput(dentry) };
            return Ok(None);
        }
        // SAFETY: the mount is valid while `self` references it; the new path takes a reference
        // of its own.
        let mnt = unsafe { bindings::mntget(self.0.mnt) };
        // INVARIANT: both references are held and the dentry is positive.
        Ok(Some(Self(bindings::path { mnt, dentry })))
    }

    /// Makes a path of a mount and a positive dentry on it.
    ///
    /// # Safety
    ///
    /// The caller must own a reference to `mnt` and one to `dentry`, which must be positive
    /// and on `mnt`; the path takes both over.
    pub(crate) unsafe fn from_raw_parts(
        mnt: *mut bindings::vfsmount,
        dentry: *mut bindings::dentry,
    ) -> Self {
        // INVARIANT: the caller guarantees the references and a positive dentry.
        Self(bindings::path { mnt, dentry })
    }

    /// Returns the `struct path`.
    pub fn as_raw(&self) -> *const bindings::path {
        &self.0
    }

    fn inode(&self) -> *mut bindings::inode {
        // SAFETY: the dentry is referenced and positive, and a referenced dentry keeps its inode
        // (type invariant).
        unsafe { (*self.0.dentry).d_inode }
    }

    /// The raw inode, for the abstractions that copy its attributes.
    pub(crate) fn raw_inode(&self) -> *mut bindings::inode {
        self.inode()
    }

    /// The file mode: type and permissions.
    pub fn mode(&self) -> u32 {
        // SAFETY: the inode is valid (type invariant); its type never changes and permission
        // changes are single stores.
        u32::from(unsafe { ptr::read_volatile(&(*self.inode()).i_mode) })
    }

    /// The type of file.
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(self.mode())
    }

    /// Returns whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == Some(FileType::Directory)
    }

    /// The inode number in its filesystem.
    pub fn ino(&self) -> u64 {
        // SAFETY: the inode is valid (type invariant) and its number does not change.
        unsafe { (*self.inode()).i_ino as u64 }
    }

    /// The size in bytes.
    pub fn size(&self) -> i64 {
        // SAFETY: the inode is valid (type invariant); `i_size_read()` reads the size safely
        // against concurrent changes.
        unsafe { bindings::i_size_read(self.inode()) }
    }

    /// The device number of a device file.
    pub fn rdev(&self) -> u32 {
        // SAFETY: the inode is valid (type invariant) and its device number does not change.
        unsafe { (*self.inode()).i_rdev }
    }

    /// Returns whether this is a whiteout: a character device with device number 0/0.
    pub fn is_whiteout_device(&self) -> bool {
        self.file_type() == Some(FileType::CharDevice) && self.rdev() == 0
    }

    /// The device number of the filesystem the object is on.
    pub fn fs_dev(&self) -> u32 {
        // SAFETY: the dentry and its super block are valid while referenced.
        unsafe { (*(*self.0.dentry).d_sb).s_dev }
    }

    /// How many filesystems are stacked below the object's, and its own (0 for a filesystem
    /// on a device).
    pub fn stack_depth(&self) -> u32 {
        // SAFETY: as in `fs_dev`.
        unsafe { (*(*self.0.dentry).d_sb).s_stack_depth as u32 }
    }

    /// Returns whether the dentry of `self` is `other`'s or below it, within one filesystem
    /// (mounts are not crossed).
    pub fn is_within(&self, other: &Path) -> bool {
        // SAFETY: both dentries are valid while referenced.
        unsafe { bindings::is_subdir(self.0.dentry, other.0.dentry) }
    }

    /// Returns whether `self` and `other` are seen through the same mount.
    pub fn same_mount(&self, other: &Path) -> bool {
        self.0.mnt == other.0.mnt
    }

    /// Returns whether the mount is read-only, or its filesystem is.
    pub fn is_read_only_mount(&self) -> bool {
        // SAFETY: the mount is valid while referenced.
        unsafe { bindings::__mnt_is_readonly(self.0.mnt) }
    }

    /// Returns whether `self` and `other` are the same dentry seen through the same mount.
    pub fn same(&self, other: &Path) -> bool {
        self.0.mnt == other.0.mnt && self.0.dentry == other.0.dentry
    }

    /// Returns whether the name was removed or replaced since this path was looked up.
    pub fn is_stale(&self) -> bool {
        // SAFETY: the dentry is valid while referenced.
        unsafe { bindings::d_unhashed(self.0.dentry) }
    }

    /// Reads the extended attribute `name` into `buf`, returning its size.
    ///
    /// An absent attribute gives `ENODATA`, a too-small buffer `ERANGE`, and an empty `buf`
    /// just returns the size.
    pub fn getxattr(&self, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `self.0` is valid (type invariant); `buf_ptr(buf)` is null or `buf`, writable
        // for its length.
        let ret = unsafe {
            bindings::vfs_getxattr(
                bindings::mnt_idmap(self.0.mnt),
                self.0.dentry,
                name.as_char_ptr(),
                buf_ptr(buf),
                buf.len(),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as c_int));
        }
        Ok(ret as usize)
    }

    /// Fills `stat` with the object's attributes, as `stat()` would (`request_mask` is
    /// `STATX_*`, `flags` `AT_STATX_*`).
    ///
    /// A filesystem's `getattr` passes on the flags it was given: with `AT_GETATTR_NOSEC`, which
    /// says the security check was done on the stacked object, the real object is not checked
    /// again.
    pub fn getattr(&self, stat: &mut Kstat, request_mask: u32, flags: u32) -> Result {
        // SAFETY: `self.0` is valid (type invariant) and `stat` is writable.
        to_result(unsafe {
            if flags & bindings::AT_GETATTR_NOSEC != 0 {
                bindings::vfs_getattr_nosec(&self.0, stat.as_raw_mut(), request_mask, flags)
            } else {
                bindings::vfs_getattr(&self.0, stat.as_raw_mut(), request_mask, flags)
            }
        })
    }

    /// Reads the directory's entries, calling `f` with each name, inode number and `DT_*` type
    /// (including `.` and `..`) until `f` returns `false` or there are no more.
    ///
    /// The directory is opened with `cred`, the credentials the filesystem reads it as.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, cred::Credential, vfs::Path, prelude::*};
    ///
    /// let root = Path::lookup(c_str!("/"))?;
    /// let (mut dot, mut dotdot) = (false, false);
    /// root.read_dir(&Credential::current(), |name, _ino, _type| {
    ///     dot |= name == b".";
    ///     dotdot |= name == b"..";
    ///     true
    /// })?;
    /// assert!(dot && dotdot);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_dir<F>(&self, cred: &Credential, f: F) -> Result
    where
        F: FnMut(&[u8], u64, u32) -> bool,
    {
        let mut reader = DirReader {
            // SAFETY: all-zero is a valid `dir_context`; the actor and position are set below.
            ctx: unsafe { MaybeUninit::zeroed().assume_init() },
            f,
            count: 0,
            stopped: false,
        };
        reader.ctx.actor = Some(dir_actor::<F>);
        // SAFETY: `self.0` is valid (type invariant) and `cred` is a valid credential, which
        // the new file takes a reference to.
        let file = from_err_ptr(unsafe {
            bindings::dentry_open(
                &self.0,
                (bindings::O_RDONLY | bindings::O_DIRECTORY) as c_int,
                cred.as_ptr(),
            )
        })?;
        let mut ret = Ok(());
        // A filesystem may return before it has emitted everything: call it until it emits
        // nothing more, as getdents() callers do.
        loop {
            reader.count = 0;
            // SAFETY: `file` is an open directory and `reader.ctx` is the first field of a
            // `DirReader` whose actor matches its closure type.
            let err = unsafe { bindings::iterate_dir(file, &mut reader.ctx) };
            if err < 0 {
                ret = Err(Error::from_errno(err));
                break;
            }
            if reader.count == 0 || reader.stopped {
                break;
            }
        }
        // SAFETY: the file was opened above and is no longer used.
        unsafe { bindings::fput(file) };
        ret
    }
}

/// The buffer pointer for a call that fills `buf`: null for an empty one, which asks the
/// filesystem for the size it needs (filesystems check the pointer, not the size).
pub(crate) fn buf_ptr(buf: &mut [u8]) -> *mut core::ffi::c_void {
    if buf.is_empty() {
        ptr::null_mut()
    } else {
        buf.as_mut_ptr().cast()
    }
}

#[repr(C)]
struct DirReader<F> {
    ctx: bindings::dir_context,
    f: F,
    count: usize,
    stopped: bool,
}

/// # Safety
///
/// `ctx` must be the `ctx` field of a `DirReader<F>`, and `name` valid for `len` bytes.
unsafe extern "C" fn dir_actor<F: FnMut(&[u8], u64, u32) -> bool>(
    ctx: *mut bindings::dir_context,
    name: *const c_char,
    len: c_int,
    _offset: bindings::loff_t,
    ino: u64,
    d_type: c_uint,
) -> bool {
    // SAFETY: `ctx` is the first field of a `repr(C)` `DirReader<F>` (caller's guarantee), which
    // `read_dir` owns exclusively during `iterate_dir()`.
    let reader = unsafe { &mut *ctx.cast::<DirReader<F>>() };
    // SAFETY: the filesystem passes a name valid for `len` bytes.
    let name = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), len as usize) };
    reader.count += 1;
    let more = (reader.f)(name, ino, d_type);
    reader.stopped = !more;
    more
}

impl Clone for Path {
    fn clone(&self) -> Self {
        // SAFETY: `self.0` holds references, so taking more is valid.
        unsafe { bindings::path_get(&self.0) };
        // INVARIANT: the new references belong to the copy.
        Self(self.0)
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        // SAFETY: the references are ours (type invariant).
        unsafe { bindings::path_put(&self.0) };
    }
}
