// SPDX-License-Identifier: GPL-2.0

//! VFS objects as code outside a file system sees them: open files, inodes and superblocks, and
//! a watch on directory reads.
//!
//! [`fs`](crate::fs) is for drivers that implement files; this module is for code that observes
//! or helps the files of others, such as a cache warmer.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

mod file;
mod inode;
#[cfg(CONFIG_KPROBES)]
mod readdir_watch;

pub use file::File;
pub use inode::{ActiveInode, Inode, SuperBlock};
#[cfg(CONFIG_KPROBES)]
pub use readdir_watch::{ReaddirEvent, ReaddirHandler, ReaddirWatch};
