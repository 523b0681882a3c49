// SPDX-License-Identifier: GPL-2.0

//! Stacking filesystem types and their registration.
//!
//! A stacking filesystem shows objects of other filesystems: every positive dentry of it stands
//! for a path in a filesystem below (its real path), and keeps what the filesystem needs to know
//! about it as [`FileSystem::Dentry`]. The VFS drives it through [`FileSystem`]: mount
//! parameters, super block set-up, name lookup, revalidation of cached names, attributes and
//! directory reading. Regular files and symbolic links are passed through to the real path
//! ([`super::backing_file`]), and the filesystem acts on the layers with its mounter's
//! credentials ([`FileSystem::creds`]).
//!
//! A filesystem type lives in a `static` [`Type`] (the VFS links it into its list and lockdep
//! keys its locks by its address) and is made known to the VFS for as long as a
//! [`Registration`] of it exists.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)

use super::{
    change::{NewObject, SetAttr},
    context::FsContext,
    dentry::Dentry,
    dir::DirEmitter,
    inode::{self, Kstat},
    param::{Kind, Param, Params, Value},
    path::Path,
    super_block::{NewSuperBlock, SuperBlock},
    watch,
};
use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    cred::Credential,
    error::{from_result, to_result, Error, Result},
    ffi::c_int,
    str::CStr,
    types::Opaque,
    ThisModule,
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// A new positive dentry: what the filesystem keeps for it and its inode number.
///
/// The inode takes its type, permissions, owner, size and times from the real path
/// ([`FileSystem::real`]).
pub struct Entry<T: FileSystem> {
    /// What the dentry keeps.
    pub data: T::Dentry,
    /// The inode number of the new inode.
    pub ino: u64,
}

/// A stacking filesystem type.
///
/// # Examples
///
/// A filesystem that mirrors the directory named by its `dir=` parameter, read-only. Its
/// directories read as empty.
///
/// ```
/// use kernel::{c_str, cred::Credential, vfs::{*, param::*}, prelude::*, str::CString,
///              types::ARef};
///
/// struct Mirror;
///
/// // SAFETY: doctests are built into the kernel, whose `THIS_MODULE` is null.
/// static BUILT_IN: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
///
/// const PARAMS: Table<1> = Table::new([Spec::string(c_str!("dir"), 0)]);
///
/// struct Mounter(ARef<Credential>);
///
/// impl FileSystem for Mirror {
///     const NAME: &'static CStr = c_str!("rust_doctest_mirror");
///     const OWNER: &'static ThisModule = &BUILT_IN;
///     const PARAMS: Params = PARAMS.params();
///     type Context = Option<CString>;
///     type Data = Mounter;
///     type Dentry = Path;
///     type Dir = ();
///
///     fn parse_param(_fc: &FsContext, dir: &mut Self::Context, p: Param<'_>) -> Result {
///         if let Value::String(s) = p.value {
///             *dir = Some(s.to_cstring()?);
///         }
///         Ok(())
///     }
///
///     fn fill_super(fc: &FsContext, dir: &mut Self::Context, sb: &NewSuperBlock<'_, Self>)
///         -> Result<(Mounter, Entry<Self>)> {
///         let Some(dir) = dir else { return Err(fc.invalf(format_args!("missing 'dir'"))) };
///         let root = Path::lookup(dir)?;
///         sb.set_read_only();
///         sb.set_stack_depth(root.stack_depth() + 1)?;
///         let ino = root.ino();
///         Ok((Mounter(Credential::current()), Entry { data: root, ino }))
///     }
///
///     fn creds(data: &Mounter) -> &Credential { &data.0 }
///     fn real(path: &Path) -> &Path { path }
///
///     fn lookup(parent: &Dentry<Self>, name: &[u8]) -> Result<Option<Entry<Self>>> {
///         let Some(dir) = parent.data() else { return Ok(None) };
///         let cred = Self::creds(parent.super_data());
///         Ok(cred.with_override(|| dir.lookup_child(name))?.map(|p| {
///             let ino = p.ino();
///             Entry { data: p, ino }
///         }))
///     }
///
///     fn getattr(d: &Dentry<Self>, stat: &mut inode::Kstat, mask: u32, flags: u32) -> Result {
///         let real = d.data().ok_or(ENOENT)?;
///         Self::creds(d.super_data()).with_override(|| real.getattr(stat, mask, flags))?;
///         stat.set_dev(d.super_dev());
///         Ok(())
///     }
///
///     fn open_dir(_d: &Dentry<Self>) -> Result<()> { Ok(()) }
///
///     fn read_dir(_: &(), _d: &Dentry<Self>, _emitter: &mut DirEmitter) -> Result { Ok(()) }
/// }
///
/// static MIRROR: Type<Mirror> = Type::new();
///
/// let registration = Registration::new(&MIRROR)?;
/// // A name is registered once.
/// assert_eq!(Registration::new(&MIRROR).err(), Some(EBUSY));
/// drop(registration);
/// // Dropping the registration unregistered it.
/// drop(Registration::new(&MIRROR)?);
/// # Ok::<(), Error>(())
/// ```
pub trait FileSystem: Sized + Send + Sync + 'static {
    /// The filesystem type's name, as `mount -t` names it.
    const NAME: &'static CStr;

    /// The module that implements the filesystem, normally `&THIS_MODULE`: super blocks keep
    /// it loaded.
    const OWNER: &'static ThisModule;

    /// The mount parameters, from a [`Table`](super::param::Table).
    const PARAMS: Params;

    /// What a mount being set up keeps: the parameters seen so far.
    type Context: Default + Send;

    /// What a super block keeps.
    type Data: Send + Sync;

    /// What a positive dentry keeps; it is dropped when the dentry is freed.
    type Dentry: Send + Sync;

    /// What an open directory keeps.
    type Dir: Send + Sync;

    /// Takes one parsed mount parameter.
    ///
    /// Unknown parameters and values of the wrong kind never get here: the VFS refuses them with
    /// `EINVAL` and a message in the mount's log.
    fn parse_param(fc: &FsContext, ctx: &mut Self::Context, param: Param<'_>) -> Result;

    /// Sets up a new super block from the parameters; returns what the super block keeps and
    /// the root dentry's entry.
    fn fill_super(
        fc: &FsContext,
        ctx: &mut Self::Context,
        sb: &NewSuperBlock<'_, Self>,
    ) -> Result<(Self::Data, Entry<Self>)>;

    /// Checks a remount: the default accepts it if it keeps the filesystem read-only or the
    /// filesystem is not read-only.
    fn reconfigure(fc: &FsContext, sb: &SuperBlock<Self>) -> Result {
        if sb.is_read_only() && !fc.wants_read_only() {
            return Err(crate::error::code::EROFS);
        }
        Ok(())
    }

    /// The credentials the filesystem acts on its layers with.
    fn creds(data: &Self::Data) -> &Credential;

    /// The real path a dentry shows: its inode's attributes come from it, and its files and
    /// symbolic links are passed through to it.
    fn real(dentry: &Self::Dentry) -> &Path;

    /// Calls `f` with each real path the inode of a dentry with `data` watches: those whose
    /// changes may change what the dentry or, for a directory, its names show. A cached dentry
    /// is trusted without [`FileSystem::revalidate`] while what its parent and itself watch is
    /// unchanged; see [`super::watch`]. The default watches nothing, so that every use of a
    /// cached name is checked.
    fn watched(_data: &Self::Dentry, _f: &mut dyn FnMut(&Path)) {}

    /// Looks up `name` in the directory `parent`; `None` makes a negative dentry.
    fn lookup(parent: &Dentry<Self>, name: &[u8]) -> Result<Option<Entry<Self>>>;

    /// Returns whether a cached dentry is still right; `false` makes the VFS look it up again.
    fn revalidate(_dentry: &Dentry<Self>) -> Result<bool> {
        Ok(true)
    }

    /// Changes the attributes of `dentry` (`chmod()`, `chown()`, `utimes()`, `truncate()`), after
    /// the VFS's permission checks of the change on the stacked inode. The inode's attributes
    /// are then taken again from the real path. The default refuses with `EROFS`.
    fn setattr(_dentry: &Dentry<Self>, _attr: &mut SetAttr) -> Result {
        Err(crate::error::code::EROFS)
    }

    /// Returns the real path to open for opening `dentry` with the open flags `flags`
    /// (`O_*`): by default [`FileSystem::real`]. A writable filesystem copies the object to a
    /// writable layer first when `flags` ask for writing.
    fn open_real(dentry: &Dentry<Self>, _flags: u32) -> Result<Path> {
        Ok(Self::real(dentry.data().ok_or(crate::error::code::ENOENT)?).clone())
    }

    /// Returns whether reads through an open file of `dentry` leave the access time of `real`,
    /// the path [`FileSystem::open_real`] returned, alone: the real file is then opened with
    /// `O_NOATIME` (by the filesystem's credentials, which may), so that reading never writes
    /// to a layer that is only read. The default is `false`.
    fn keeps_atime(_dentry: &Dentry<Self>, _real: &Path) -> bool {
        false
    }

    /// Makes a new object for the negative dentry `dentry` in the directory `parent`, with the
    /// permission bits of `mode` (and for [`NewObject::Node`] its type bits), for `open(O_CREAT)`,
    /// `mkdir()`, `symlink()` and `mknod()`; returns the new dentry's entry. The VFS has checked
    /// the caller's permission to create in `parent`. The default refuses with `EROFS`.
    fn make(
        _parent: &Dentry<Self>,
        _dentry: &Dentry<Self>,
        _mode: u32,
        _what: NewObject<'_>,
    ) -> Result<Entry<Self>> {
        Err(crate::error::code::EROFS)
    }

    /// Makes the negative dentry `new` in the directory `parent` a hard link to `old`; returns
    /// its entry. The default refuses with `EROFS`.
    fn link(
        _old: &Dentry<Self>,
        _parent: &Dentry<Self>,
        _new: &Dentry<Self>,
    ) -> Result<Entry<Self>> {
        Err(crate::error::code::EROFS)
    }

    /// Removes `dentry` from the directory `parent` (`rmdir()` if `is_dir`, `unlink()`
    /// otherwise). The dentry is dropped from the cache afterwards. The default refuses with
    /// `EROFS`.
    fn remove(_parent: &Dentry<Self>, _dentry: &Dentry<Self>, _is_dir: bool) -> Result {
        Err(crate::error::code::EROFS)
    }

    /// Renames `old` in `old_parent` to `new` in `new_parent` with `renameat2()`'s `flags`;
    /// the VFS then moves the dentry. The default refuses with `EROFS`.
    fn rename(
        _old_parent: &Dentry<Self>,
        _old: &Dentry<Self>,
        _new_parent: &Dentry<Self>,
        _new: &Dentry<Self>,
        _flags: u32,
    ) -> Result {
        Err(crate::error::code::EROFS)
    }

    /// Reads the extended attribute `name` of `dentry` into `buf` and returns its size; an
    /// empty `buf` asks for the size. The default has none (`EOPNOTSUPP`).
    fn getxattr(_dentry: &Dentry<Self>, _name: &CStr, _buf: &mut [u8]) -> Result<usize> {
        Err(Error::from_errno(-(bindings::EOPNOTSUPP as c_int)))
    }

    /// Sets (`Some`) or removes (`None`) the extended attribute `name` of `dentry`, with
    /// `setxattr()`'s `flags`. The default refuses with `EOPNOTSUPP`.
    fn setxattr(
        _dentry: &Dentry<Self>,
        _name: &CStr,
        _value: Option<&[u8]>,
        _flags: u32,
    ) -> Result {
        Err(Error::from_errno(-(bindings::EOPNOTSUPP as c_int)))
    }

    /// Lists the extended attribute names of `dentry` into `buf`, each followed by a NUL byte,
    /// and returns the length; an empty `buf` asks for the length. The default lists none.
    fn listxattr(_dentry: &Dentry<Self>, _buf: &mut [u8]) -> Result<usize> {
        Ok(0)
    }

    /// Fills `stat` for `stat()` on `dentry`.
    fn getattr(dentry: &Dentry<Self>, stat: &mut Kstat, request_mask: u32, flags: u32) -> Result;

    /// Opens the directory `dentry`.
    fn open_dir(dentry: &Dentry<Self>) -> Result<Self::Dir>;

    /// Emits the entries of an open directory from `emitter`'s position on, and moves the
    /// position past what was emitted.
    fn read_dir(dir: &Self::Dir, dentry: &Dentry<Self>, emitter: &mut DirEmitter) -> Result;

    /// Called when the directory is sought back to its start (`rewinddir()`).
    fn rewind_dir(_dir: &Self::Dir) {}
}

/// A filesystem type, `struct file_system_type`, in a `static`.
///
/// # Invariants
///
/// `self.0` is a `file_system_type` whose operations are those of `T`; Rust code never changes
/// it, while the VFS changes its list and lock fields when registering it.
pub struct Type<T: FileSystem>(Opaque<bindings::file_system_type>, PhantomData<T>);

// SAFETY: Rust code never reads or writes the structure; the VFS serialises its own changes.
unsafe impl<T: FileSystem> Sync for Type<T> {}

impl<T: FileSystem> Type<T> {
    /// The filesystem type of `T`.
    pub const fn new() -> Self {
        Self(
            Opaque::new(bindings::file_system_type {
                name: T::NAME.as_char_ptr(),
                owner: T::OWNER.as_ptr(),
                init_fs_context: Some(init_fs_context::<T>),
                parameters: T::PARAMS.as_ptr(),
                kill_sb: Some(kill_sb::<T>),
                // SAFETY: all-zero is a valid `file_system_type` for the remaining fields: no
                // flags, no legacy mount, unlinked, and lock keys that lockdep sets up.
                ..unsafe { MaybeUninit::zeroed().assume_init() }
            }),
            PhantomData,
        )
    }
}

impl<T: FileSystem> Default for Type<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A registered filesystem type; dropping it unregisters the type.
///
/// Mounted super blocks keep [`FileSystem::OWNER`] loaded, so a module's registration lives
/// until nothing is mounted; the `static` type outlives every super block in any case.
pub struct Registration<T: FileSystem> {
    ty: &'static Type<T>,
}

impl<T: FileSystem> Registration<T> {
    /// Registers `ty`; fails with `EBUSY` if a filesystem type of that name exists.
    pub fn new(ty: &'static Type<T>) -> Result<Self> {
        // SAFETY: `ty` is a valid `file_system_type` that lives forever.
        to_result(unsafe { bindings::register_filesystem(ty.0.get()) })?;
        Ok(Self { ty })
    }
}

impl<T: FileSystem> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: the type was registered by `new`.
        unsafe { bindings::unregister_filesystem(self.ty.0.get()) };
    }
}

struct ContextOps<T>(PhantomData<T>);

impl<T: FileSystem> ContextOps<T> {
    const OPS: bindings::fs_context_operations = bindings::fs_context_operations {
        free: Some(free_fs_context::<T>),
        parse_param: Some(parse_param::<T>),
        get_tree: Some(get_tree::<T>),
        reconfigure: Some(reconfigure::<T>),
        // SAFETY: all-zero is valid for the remaining operations: absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// # Safety
///
/// Called by the VFS with a new context of a filesystem of type `T`.
unsafe extern "C" fn init_fs_context<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    from_result(|| {
        let ctx = KBox::new(T::Context::default(), GFP_KERNEL)?;
        // SAFETY: `fc` is valid; `fs_private` and `ops` are the filesystem's to set here, and
        // `free_fs_context` releases the box.
        unsafe {
            (*fc).fs_private = KBox::into_raw(ctx).cast();
            (*fc).ops = &ContextOps::<T>::OPS;
        }
        Ok(0)
    })
}

/// Returns the context a filesystem of type `T` keeps in `fc`.
///
/// # Safety
///
/// `fc` must be a context of a filesystem of type `T` that `init_fs_context` set up, and the
/// VFS must not call into the filesystem for it concurrently (it serialises calls on a context).
unsafe fn context<'a, T: FileSystem>(fc: *mut bindings::fs_context) -> &'a mut T::Context {
    // SAFETY: `fs_private` holds the box `init_fs_context` made, used by one call at a time.
    unsafe { &mut *(*fc).fs_private.cast::<T::Context>() }
}

/// # Safety
///
/// Called by the VFS when a context of a filesystem of type `T` is freed.
unsafe extern "C" fn free_fs_context<T: FileSystem>(fc: *mut bindings::fs_context) {
    // SAFETY: `fc` is valid.
    let ctx = unsafe { (*fc).fs_private };
    if !ctx.is_null() {
        // SAFETY: `ctx` is the box `init_fs_context` made, and this is its last use.
        drop(unsafe { KBox::from_raw(ctx.cast::<T::Context>()) });
    }
}

/// # Safety
///
/// Called by the VFS with a context of a filesystem of type `T` and one of its parameters.
unsafe extern "C" fn parse_param<T: FileSystem>(
    fc: *mut bindings::fs_context,
    param: *mut bindings::fs_parameter,
) -> c_int {
    from_result(|| {
        // SAFETY: all-zero is a valid `fs_parse_result`.
        let mut result: bindings::fs_parse_result = unsafe { MaybeUninit::zeroed().assume_init() };
        // SAFETY: `fc` and `param` are valid, and the table ends with an all-zero entry.
        let opt =
            unsafe { bindings::__fs_parse(&mut (*fc).log, T::PARAMS.as_ptr(), param, &mut result) };
        // Unknown names (`ENOPARAM`) go back to the VFS, which handles `source` and reports the
        // rest.
        to_result(opt)?;
        let opt = opt as u8;
        let value = match T::PARAMS.kind(opt) {
            Some(Kind::Flag) => Value::Flag,
            Some(Kind::String) => {
                // SAFETY: `fs_param_is_string()` accepted the value, so `string` is a valid C
                // string that the parameter owns for the duration of the call.
                Value::String(unsafe { CStr::from_char_ptr((*param).__bindgen_anon_1.string) })
            }
            None => return Err(crate::error::code::EINVAL),
        };
        // SAFETY: `fc` is a valid context of `T`, used by this call alone.
        let (fc_ref, ctx) = unsafe { (FsContext::from_raw(fc), context::<T>(fc)) };
        T::parse_param(fc_ref, ctx, Param { opt, value })?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS to create the super block of a context of a filesystem of type `T`.
unsafe extern "C" fn get_tree<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: `fc` is valid; `fill_super` matches what `get_tree_nodev()` expects.
    unsafe { bindings::get_tree_nodev(fc, Some(fill_super::<T>)) }
}

/// # Safety
///
/// Called by `get_tree_nodev()` with a new super block and the context it is made from.
unsafe extern "C" fn fill_super<T: FileSystem>(
    sb: *mut bindings::super_block,
    fc: *mut bindings::fs_context,
) -> c_int {
    from_result(|| {
        // SAFETY: `sb` is a new super block, set up by this call alone.
        let new_sb = unsafe { NewSuperBlock::<T>::from_raw(sb) };
        // SAFETY: `fc` is a valid context of `T`, used by this call alone.
        let (fc_ref, ctx) = unsafe { (FsContext::from_raw(fc), context::<T>(fc)) };
        new_sb.set_defaults();
        let (data, root) = T::fill_super(fc_ref, ctx, &new_sb)?;
        // SAFETY: nothing else uses `s_fs_info`; `kill_sb` frees it, also if the rest fails.
        unsafe { (*sb).s_fs_info = KBox::into_raw(KBox::new(data, GFP_KERNEL)?).cast() };
        let root_data = KBox::new(root.data, GFP_KERNEL)?;
        // SAFETY: `sb` is a super block of `T` being set up.
        let inode = unsafe { inode::new_inode::<T>(sb, &root_data, root.ino)? };
        // SAFETY: `inode` is a new inode of `sb`; `d_make_root()` takes its reference, also on
        // failure.
        let dentry = unsafe { bindings::d_make_root(inode) };
        if dentry.is_null() {
            return Err(crate::error::code::ENOMEM);
        }
        // SAFETY: the root dentry is not visible to anyone yet; `d_release` frees the data.
        unsafe {
            (*dentry).d_fsdata = KBox::into_raw(root_data).cast();
            (*sb).s_root = dentry;
        }
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS on remount of a super block of a filesystem of type `T`.
unsafe extern "C" fn reconfigure<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    from_result(|| {
        // SAFETY: `fc` is a valid context for the call; a remount context has a root whose
        // super block was set up by `fill_super`.
        let (fc_ref, sb) = unsafe {
            (
                FsContext::from_raw(fc),
                SuperBlock::<T>::from_raw((*(*fc).root).d_sb),
            )
        };
        T::reconfigure(fc_ref, sb)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS to shut down a super block of a filesystem of type `T`.
unsafe extern "C" fn kill_sb<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: `sb` is valid; `s_fs_info` is null or the box `fill_super` stored.
    let data = unsafe { (*sb).s_fs_info };
    // SAFETY: `sb` is a super block from `get_tree_nodev()`; this frees its dentries and inodes,
    // and with them everything that may use `data`.
    unsafe { bindings::kill_anon_super(sb) };
    if !data.is_null() {
        // SAFETY: nothing uses the super block's data any more.
        drop(unsafe { KBox::from_raw(data.cast::<T::Data>()) });
    }
}

/// The operations every super block of type `T` has.
pub(crate) struct SuperOps<T>(PhantomData<T>);

impl<T: FileSystem> SuperOps<T> {
    pub(crate) const OPS: bindings::super_operations = bindings::super_operations {
        // Inodes are made per dentry and never looked up by number: free them on last use.
        drop_inode: Some(bindings::generic_delete_inode),
        statfs: Some(bindings::simple_statfs),
        free_inode: Some(free_inode),
        // SAFETY: all-zero is valid for the remaining operations: absent.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// # Safety
///
/// Called by the VFS after an RCU grace period, with an inode of a stacking filesystem that is
/// no longer in use.
unsafe extern "C" fn free_inode(inode: *mut bindings::inode) {
    // SAFETY: the inode is unused, and its grace period is over.
    unsafe {
        watch::free(inode);
        bindings::free_inode_nonrcu(inode);
    }
}

/// Returns a pointer error for `e`, as C operations that return objects do.
pub(crate) fn err_ptr<R>(e: Error) -> *mut R {
    e.to_ptr()
}
