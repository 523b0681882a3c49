// SPDX-License-Identifier: GPL-2.0

//! Inodes and the file systems they belong to.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{bindings, pagecache::AddressSpace, str::CStr, types::Opaque};
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
