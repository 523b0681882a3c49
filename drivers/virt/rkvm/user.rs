// SPDX-License-Identifier: GPL-2.0

//! Copying ioctl arguments from and to user space.

use kernel::{
    prelude::*,
    types::{AsBytes, FromBytes},
    uaccess::UserSlice,
};

/// Reads a `T` from the user pointer `arg`.
pub(crate) fn read<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(arg, size_of::<T>()).reader().read()
}

/// Writes `value` to the user pointer `arg`; returns 0, `ioctl()`'s success.
pub(crate) fn write<T: AsBytes>(arg: usize, value: &T) -> Result<isize> {
    UserSlice::new(arg, size_of::<T>()).writer().write(value)?;
    Ok(0)
}
