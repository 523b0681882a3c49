// SPDX-License-Identifier: GPL-2.0

//! Inodes and the file systems they belong to.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{
    bindings,
    error::{Error, Result},
    pagecache::AddressSpace,
    str::CStr,
    types::Opaque,
};
use core::{
    ops::Deref,
    ptr::{addr_of_mut, NonNull},
};

/// An inode (`struct inode`).
///
/// # Examples
///
/// ```
/// use kernel::{bindings, c_str, {file::File, inode::ActiveInode}};
///
/// let root = File::open(c_str!("/"), bindings::O_RDONLY | bindings::O_DIRECTORY)?;
/// let inode = root.inode();
/// assert!(inode.is_dir());
/// assert_eq!(inode.super_block().fs_name().as_bytes(), b"rootfs");
/// // rootfs lives in memory: no block device, no blocks.
/// assert!(inode.super_block().bdev_mapping().is_none());
/// assert_eq!(inode.bmap(0), None);
///
///
/// // An active reference outlives the file.
/// let ino = inode.ino();
/// let held = ActiveInode::new(inode).ok_or(EBUSY)?;
/// drop(root);
/// assert_eq!(held.ino(), ino);
/// assert!(held.is_dir());
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// The inode is valid: whoever hands out a reference to it holds a reference on it.
#[repr(transparent)]
pub struct Inode(Opaque<bindings::inode>);

// SAFETY: inodes are shared between threads; their reference count is atomic.
unsafe impl Send for Inode {}

// SAFETY: the methods of `&Inode` read fields that do not change while the inode is referenced,
// or read them through the C accessors meant for unlocked readers.
unsafe impl Sync for Inode {}

impl Inode {
    /// Creates a reference to the inode at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to an inode on which a reference is held for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::inode) -> &'a Inode {
        // SAFETY: `Inode` is a transparent wrapper of `struct inode`; the caller guarantees
        // validity.
        unsafe { &*ptr.cast() }
    }

    fn as_raw(&self) -> *mut bindings::inode {
        self.0.get()
    }

    /// The inode's generation: with the inode number, it tells this inode from an earlier one
    /// that had the same number.
    pub fn generation(&self) -> u32 {
        // SAFETY: `i_generation` is set when the inode is created or read.
        unsafe { (*self.as_raw()).i_generation }
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        // SAFETY: `i_ino` does not change while the inode is referenced.
        unsafe { (*self.as_raw()).i_ino as u64 }
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        // SAFETY: the file type bits of `i_mode` do not change while the inode is referenced.
        let mode = u32::from(unsafe { (*self.as_raw()).i_mode });
        mode & bindings::S_IFMT == bindings::S_IFDIR
    }

    /// The size in bytes (`i_size_read`).
    pub fn size(&self) -> i64 {
        // SAFETY: the inode is valid; `i_size_read` is for readers without `i_rwsem`.
        unsafe { bindings::i_size_read(self.as_raw()) }
    }

    /// The file system the inode belongs to.
    pub fn super_block(&self) -> &SuperBlock {
        // SAFETY: `i_sb` never changes, and a referenced inode keeps its superblock alive.
        unsafe { &*(*self.as_raw()).i_sb.cast::<SuperBlock>() }
    }

    /// The device block that holds block `block` of the file (in file system blocks), if the
    /// file system can tell (`bmap`) and the block is not a hole. Only a hint when the file may be
    /// changing, as with `FIBMAP`.
    ///
    /// Context: may sleep (the file system may read its block map).
    pub fn bmap(&self, block: u64) -> Option<u64> {
        let mut b: bindings::sector_t = block;
        // SAFETY: the inode is valid; `bmap` checks that its mapping has a `bmap` operation.
        let ret = unsafe { bindings::bmap(self.as_raw(), &mut b) };
        (ret == 0 && b != 0).then_some(b)
    }

    /// Whether the file's contents and, for a directory, its names are encrypted on the disk
    /// (`IS_ENCRYPTED`): the names in its blocks are not the names it is looked up by.
    pub fn is_encrypted(&self) -> bool {
        // SAFETY: the inode is valid; `i_flags` is a word read racily, as `IS_ENCRYPTED()` does.
        let flags = unsafe { core::ptr::addr_of!((*self.as_raw()).i_flags).read_volatile() };
        flags & bindings::S_ENCRYPTED != 0
    }

    /// A dentry of this directory, if it is a directory and has one in the dentry cache (a
    /// directory being listed has).
    pub fn dir_dentry(&self) -> Option<DirDentry> {
        if !self.is_dir() {
            return None;
        }
        // SAFETY: the inode is valid; `d_find_alias` returns a new reference or NULL.
        let dentry = unsafe { bindings::d_find_alias(self.as_raw()) };
        // INVARIANT: a reference to a dentry of this directory.
        NonNull::new(dentry).map(DirDentry)
    }

    /// The page cache of the inode's data (`i_mapping`).
    pub fn mapping(&self) -> &AddressSpace {
        // SAFETY: `i_mapping` is set when the inode is created and lives as long as it.
        unsafe { AddressSpace::from_raw((*self.as_raw()).i_mapping) }
    }
}

/// A mounted file system (`struct super_block`).
///
/// # Invariants
///
/// The superblock is valid: whoever hands out a reference to it keeps it alive.
#[repr(transparent)]
pub struct SuperBlock(Opaque<bindings::super_block>);

// SAFETY: superblocks are shared between threads.
unsafe impl Send for SuperBlock {}

// SAFETY: the methods of `&SuperBlock` only read fields fixed while the file system is mounted.
unsafe impl Sync for SuperBlock {}

impl SuperBlock {
    fn as_raw(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    /// The name of the file system type, such as `ext4`.
    pub fn fs_name(&self) -> &CStr {
        // SAFETY: `s_type` and its `name`, a static string of the file system's module, live as
        // long as the superblock.
        unsafe { CStr::from_char_ptr((*(*self.as_raw()).s_type).name) }
    }

    /// The device number of the file system (`s_dev`), which stays the same across remounts of
    /// the same block device.
    pub fn dev(&self) -> u32 {
        // SAFETY: `s_dev` is fixed while the file system is mounted.
        unsafe { (*self.as_raw()).s_dev }
    }

    /// log2 of the file system's block size.
    pub fn blocksize_bits(&self) -> u32 {
        // SAFETY: the block size is fixed while the file system is mounted.
        u32::from(unsafe { (*self.as_raw()).s_blocksize_bits })
    }

    /// The page cache of the file system's block device, if it has one: where file systems
    /// that use buffer heads keep their metadata.
    pub fn bdev_mapping(&self) -> Option<&AddressSpace> {
        // SAFETY: `s_bdev` is set at mount and kept open until the superblock is shut down.
        let bdev = unsafe { (*self.as_raw()).s_bdev };
        if bdev.is_null() {
            return None;
        }
        // SAFETY: an open block device keeps its page cache.
        Some(unsafe { AddressSpace::from_raw((*bdev).bd_mapping) })
    }
}

/// A dentry of a directory, found from its inode (`d_find_alias()`): to look names up in it
/// without a file or a mount, such as to fill the dentry and inode caches ahead of a program
/// that will look the names up.
///
/// # Examples
///
/// ```
/// use kernel::{bindings, c_str, file::File};
///
/// let root = File::open(c_str!("/"), bindings::O_RDONLY | bindings::O_DIRECTORY)?;
/// assert!(!root.inode().is_encrypted());
/// let dir = root.inode().dir_dentry().ok_or(ENOENT)?;
/// assert_eq!(dir.lookup(b"no-such-name-here"), Ok(false));
/// assert!(!dir.is_cached(b"no-such-name-there"));
/// // Not one name: refused, as by `lookup_one()`.
/// assert_eq!(dir.lookup(b"a/b"), Err(EACCES));
/// assert_eq!(dir.lookup(b".."), Err(EACCES));
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// Holds a reference to a dentry of a directory.
pub struct DirDentry(NonNull<bindings::dentry>);

// SAFETY: a dentry reference may be dropped on any thread; lookups take the dcache's locks.
unsafe impl Send for DirDentry {}

// SAFETY: the methods of `&DirDentry` use the dcache's and the file system's own locking.
unsafe impl Sync for DirDentry {}

impl DirDentry {
    /// Whether `name` is in the dentry cache under this directory now (as a name that exists or
    /// one that was found not to).
    ///
    /// Context: any that may take spinlocks (takes the RCU read lock and spinlocks only).
    pub fn is_cached(&self, name: &[u8]) -> bool {
        let Ok(len) = u32::try_from(name.len()) else {
            return false;
        };
        let mut q = bindings::qstr::default();
        q.__bindgen_anon_1.__bindgen_anon_1.len = len;
        q.name = name.as_ptr();
        // SAFETY: the dentry is referenced (type invariant); `q` names `len` valid bytes;
        // `d_hash_and_lookup` computes the hash and returns a new reference, NULL, or an error.
        let found = unsafe { bindings::d_hash_and_lookup(self.0.as_ptr(), &mut q) };
        if found.is_null() || crate::error::from_err_ptr(found).is_err() {
            return false;
        }
        // SAFETY: the reference `d_hash_and_lookup` returned.
        unsafe { bindings::dput(found) };
        true
    }

    /// Looks `name` up in this directory, as the current task would without a mount's id
    /// mapping, leaving the entry (and its inode) in the caches; returns whether it exists.
    ///
    /// Fails as a lookup would: `EACCES` for a name that is not one component (`lookup_one`'s
    /// check), an error from the file system.
    ///
    /// Context: may sleep (takes the directory's lock, may read from the disk).
    pub fn lookup(&self, name: &[u8]) -> Result<bool> {
        let len = i32::try_from(name.len())
            .map_err(|_| Error::from_errno(-(bindings::ENAMETOOLONG as i32)))?;
        // SAFETY: the dentry is referenced (type invariant); `lookup_one_unlocked` takes the
        // directory's lock itself and returns a new reference or an error.
        let found = crate::error::from_err_ptr(unsafe {
            bindings::lookup_one_unlocked(
                core::ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                name.as_ptr(),
                self.0.as_ptr(),
                len,
            )
        })?;
        // SAFETY: `found` is referenced; a referenced dentry's inode pointer is stable.
        let positive = unsafe { !(*found).d_inode.is_null() };
        // SAFETY: the reference `lookup_one_unlocked` returned.
        unsafe { bindings::dput(found) };
        Ok(positive)
    }
}

impl Drop for DirDentry {
    fn drop(&mut self) {
        // SAFETY: the reference held (type invariant).
        unsafe { bindings::dput(self.0.as_ptr()) };
    }
}

/// A reference to an inode that also keeps its file system active, so that it may be used after
/// the file it came from is closed, and after the file system is unmounted: the file system is
/// shut down when the last such reference is dropped.
///
/// Taking one does not sleep or lock ([`ActiveInode::new`] may be called in any context);
/// dropping one may sleep.
///
/// # Invariants
///
/// Holds a reference on `inode` (`ihold`) and an active reference on its superblock
/// (`s_active`).
pub struct ActiveInode {
    inode: NonNull<Inode>,
}

// SAFETY: both references may be dropped from any thread (in process context).
unsafe impl Send for ActiveInode {}

// SAFETY: `&ActiveInode` only gives `&Inode`, which is `Sync`.
unsafe impl Sync for ActiveInode {}

impl ActiveInode {
    /// Takes new references on `inode` and its file system; `None` if the file system is being
    /// shut down.
    ///
    /// Context: any, including atomic and NMI-like contexts: only atomic operations.
    pub fn new(inode: &Inode) -> Option<Self> {
        let sb = inode.super_block().as_raw();
        // SAFETY: `sb` is valid while `inode` is referenced; an active reference is only taken
        // when there still is one.
        if !unsafe { bindings::atomic_inc_not_zero(addr_of_mut!((*sb).s_active)) } {
            return None;
        }
        // SAFETY: the caller holds a reference on `inode`, as `ihold` requires.
        unsafe { bindings::ihold(inode.as_raw()) };
        // INVARIANT: both references were taken above.
        Some(Self {
            inode: NonNull::from(inode),
        })
    }
}

impl Deref for ActiveInode {
    type Target = Inode;

    fn deref(&self) -> &Inode {
        // SAFETY: by the type invariant the inode is referenced while `self` lives.
        unsafe { self.inode.as_ref() }
    }
}

impl Drop for ActiveInode {
    fn drop(&mut self) {
        let inode = self.inode.as_ptr().cast::<bindings::inode>();
        // SAFETY: by the type invariant the superblock is alive until the reference is dropped.
        let sb = unsafe { (*inode).i_sb };
        // SAFETY: the inode reference is dropped first, while the file system is still active
        // (eviction of the inode may need it); then the active superblock reference.
        unsafe {
            bindings::iput(inode);
            bindings::deactivate_super(sb);
        }
    }
}
