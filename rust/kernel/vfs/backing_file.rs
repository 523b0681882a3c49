// SPDX-License-Identifier: GPL-2.0

//! Regular files passed through to their real files.
//!
//! Opening a regular file of a stacking filesystem opens its real path
//! ([`FileSystem::real`]) as a backing file, with the filesystem's credentials
//! ([`FileSystem::creds`]), and reads, splices and maps go to that file through the kernel's
//! backing-file helpers, which act with those credentials too. The backing file reports the
//! stacked file's path, so `/proc/<pid>/maps` shows the union's name.
//!
//! C header: [`include/linux/backing-file.h`](srctree/include/linux/backing-file.h)

use super::{dentry::Dentry, FileSystem};
use crate::{
    bindings,
    error::{from_err_ptr, from_result},
    ffi::{c_int, c_uint},
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// The file operations of regular files of a filesystem of type `T`.
pub(crate) struct FileOps<T>(PhantomData<T>);

impl<T: FileSystem> FileOps<T> {
    pub(crate) const OPS: bindings::file_operations = bindings::file_operations {
        owner: T::OWNER.as_ptr(),
        open: Some(open::<T>),
        release: Some(release),
        read_iter: Some(read_iter::<T>),
        write_iter: Some(write_iter::<T>),
        splice_read: Some(splice_read::<T>),
        splice_write: Some(splice_write::<T>),
        fsync: Some(fsync::<T>),
        llseek: Some(llseek),
        mmap: Some(mmap::<T>),
        // SAFETY: all-zero is valid for the remaining operations: absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// The flags of a user's `open()` that must not reach the real file: the open is done.
const NOT_PASSED: u32 =
    bindings::O_CREAT | bindings::O_EXCL | bindings::O_NOCTTY | bindings::O_TRUNC;

/// Returns the context the backing-file helpers act in for `file`.
///
/// # Safety
///
/// `file` must be an open regular file of type `T`.
unsafe fn backing_ctx<T: FileSystem>(file: *mut bindings::file) -> bindings::backing_file_ctx {
    // SAFETY: an open file references its dentry, which belongs to a set-up super block of `T`.
    let dentry = unsafe { Dentry::<T>::from_raw((*file).f_path.dentry) };
    bindings::backing_file_ctx {
        cred: T::creds(dentry.super_data()).as_ptr(),
        user_file: file,
        accessed: None,
        end_write: Some(end_write),
    }
}

/// Takes the size and times of the stacked inode from the real file after a write.
///
/// # Safety
///
/// Called by the backing-file helpers with an open file that `open` opened.
unsafe extern "C" fn end_write(file: *mut bindings::file, _pos: bindings::loff_t, _ret: isize) {
    // SAFETY: `file` and its backing file are open, so both inodes are valid.
    unsafe {
        let inode = bindings::file_inode(file);
        let real = bindings::file_inode(real_file(file));
        bindings::fsstack_copy_attr_times(inode, real);
        bindings::fsstack_copy_inode_size(inode, real);
    }
}

/// # Safety
///
/// Called by the VFS to open a regular file of type `T`.
unsafe extern "C" fn open<T: FileSystem>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        // SAFETY: the file references its dentry, of a set-up super block of `T`.
        let dentry = unsafe { Dentry::<T>::from_raw((*file).f_path.dentry) };
        // SAFETY: `file` is being opened and its flags are stable.
        let flags = unsafe { (*file).f_flags };
        let real = T::open_real(dentry, flags)?;
        // Copy-up may have changed the real object.
        dentry.refresh_inode();
        let real = &real;
        let cred = T::creds(dentry.super_data());
        let mut flags = flags & !NOT_PASSED;
        if T::keeps_atime(dentry, real) {
            flags |= bindings::O_NOATIME;
        }
        let realfile = cred.with_override(|| {
            // SAFETY: `file` is valid, `real` is a referenced path and `cred` a valid credential
            // that the backing file takes a reference to.
            from_err_ptr(unsafe {
                bindings::backing_file_open(file, flags as c_int, real.as_raw(), cred.as_ptr())
            })
        })?;
        // SAFETY: `private_data` is ours; `release` puts the backing file.
        unsafe { (*file).private_data = realfile.cast() };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS on the last close of a file that `open` opened.
unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `private_data` holds the backing file `open` opened; this is its last use.
    unsafe { bindings::fput((*file).private_data.cast()) };
    0
}

/// Returns the backing file of an open file.
///
/// # Safety
///
/// `file` must be a file that `open` opened and that is not released.
unsafe fn real_file(file: *mut bindings::file) -> *mut bindings::file {
    // SAFETY: `private_data` holds the backing file for as long as `file` is open.
    unsafe { (*file).private_data.cast() }
}

/// # Safety
///
/// Called by the VFS to read from an open regular file of type `T`.
unsafe extern "C" fn read_iter<T: FileSystem>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid and names an open file of `T`.
    unsafe {
        let file = (*iocb).ki_filp;
        let mut ctx = backing_ctx::<T>(file);
        bindings::backing_file_read_iter(real_file(file), iter, iocb, (*iocb).ki_flags, &mut ctx)
    }
}

/// # Safety
///
/// Called by the VFS to write to an open regular file of type `T`.
unsafe extern "C" fn write_iter<T: FileSystem>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid and names an open file of `T`. Writes are serialised on the
    // stacked inode, which `end_write` updates.
    unsafe {
        let file = (*iocb).ki_filp;
        let inode = bindings::file_inode(file);
        let mut ctx = backing_ctx::<T>(file);
        bindings::inode_lock(inode);
        let ret = bindings::backing_file_write_iter(
            real_file(file),
            iter,
            iocb,
            (*iocb).ki_flags,
            &mut ctx,
        );
        bindings::inode_unlock(inode);
        ret
    }
}

/// # Safety
///
/// Called by the VFS to splice into an open regular file of type `T`.
unsafe extern "C" fn splice_write<T: FileSystem>(
    pipe: *mut bindings::pipe_inode_info,
    file: *mut bindings::file,
    ppos: *mut bindings::loff_t,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: `file` is an open file of `T`; the other arguments are the caller's.
    unsafe {
        let inode = bindings::file_inode(file);
        let mut ctx = backing_ctx::<T>(file);
        bindings::inode_lock(inode);
        let ret =
            bindings::backing_file_splice_write(pipe, real_file(file), ppos, len, flags, &mut ctx);
        bindings::inode_unlock(inode);
        ret
    }
}

/// # Safety
///
/// Called by the VFS to flush an open regular file of type `T` to its storage.
unsafe extern "C" fn fsync<T: FileSystem>(
    file: *mut bindings::file,
    start: bindings::loff_t,
    end: bindings::loff_t,
    datasync: c_int,
) -> c_int {
    // SAFETY: `file` is an open file of `T`, with its backing file.
    unsafe {
        let dentry = Dentry::<T>::from_raw((*file).f_path.dentry);
        let real = real_file(file);
        T::creds(dentry.super_data())
            .with_override(|| bindings::vfs_fsync_range(real, start, end, datasync))
    }
}

/// # Safety
///
/// Called by the VFS to splice from an open regular file of type `T`.
unsafe extern "C" fn splice_read<T: FileSystem>(
    file: *mut bindings::file,
    ppos: *mut bindings::loff_t,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: `file` is an open file of `T`; the other arguments are the caller's.
    unsafe {
        let mut ctx = backing_ctx::<T>(file);
        bindings::backing_file_splice_read(real_file(file), ppos, pipe, len, flags, &mut ctx)
    }
}

/// # Safety
///
/// Called by the VFS with the `mmap_lock` held to map an open regular file of type `T`.
unsafe extern "C" fn mmap<T: FileSystem>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: `file` is an open file of `T` and `vma` the new mapping of it.
    unsafe {
        let mut ctx = backing_ctx::<T>(file);
        bindings::backing_file_mmap(real_file(file), vma, &mut ctx)
    }
}

/// # Safety
///
/// Called by the VFS to move the position of an open file that `open` opened.
unsafe extern "C" fn llseek(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: `file` is open and its backing file too; the position is the file's, which the
    // VFS serialises with `f_pos_lock` where that matters. The backing file's position follows
    // the user file's, so that `SEEK_END`, `SEEK_DATA` and `SEEK_HOLE` ask the real file.
    unsafe {
        let real = real_file(file);
        (*real).f_pos = (*file).f_pos;
        let ret = bindings::vfs_llseek(real, offset, whence);
        (*file).f_pos = (*real).f_pos;
        ret
    }
}
