// SPDX-License-Identifier: GPL-2.0

//! Stacking filesystems.
//!
//! A stacking filesystem shows the objects of other filesystems (its layers), as a union mount
//! does. It implements [`FileSystem`] and registers a [`Type`] of it; the VFS then calls it to
//! set up mounts ([`context`], [`param`], [`super_block`]), look names up and check cached
//! ones ([`dentry`], [`inode`]; cheaply while the layers are unchanged: [`watch`]), and read
//! directories ([`dir`]), while its regular files are passed through to the files below
//! ([`backing_file`]). It reaches its layers through [`Path`]s.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h),
//! [`include/linux/backing-file.h`](srctree/include/linux/backing-file.h)

pub mod backing_file;
pub mod change;
pub mod context;
pub mod dentry;
pub mod dir;
pub mod filesystem;
pub mod inode;
pub mod param;
pub mod path;
pub mod set_once;
pub mod super_block;
pub mod watch;
pub mod xattr;

pub use context::FsContext;
pub use dentry::Dentry;
pub use dir::DirEmitter;
pub use filesystem::{Entry, FileSystem, Registration, Type};
pub use path::{FileType, Path};
pub use super_block::{NewSuperBlock, SuperBlock};
