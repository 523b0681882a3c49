// SPDX-License-Identifier: GPL-2.0

//! Files.
//!
//! A driver describes what its files do by implementing [`FileOperations`]; the files themselves
//! are created by the VFS when user space opens a device (see
//! [`miscdevice`](crate::miscdevice)), or by the driver for an anonymous inode
//! ([`anon_inode`]), such as the per-object file descriptors an `ioctl()` may return.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

pub mod anon_inode;
mod file_operations;

pub use file_operations::FileOperations;
pub(crate) use file_operations::Vtable;
