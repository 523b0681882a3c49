// SPDX-License-Identifier: GPL-2.0

//! unionfs: overlayfs-compatible union mounts, in Rust.
//!
//! A union joins directory trees (layers) into one: a name shows the object of the topmost
//! layer that has it, and directories present in several layers show the entries of all of
//! them. unionfs reads overlayfs's on-disk format: whiteouts hide lower names, opaque
//! directories hide lower directories. With an upper layer the union is writable: objects of
//! lower layers are copied up ([`copy_up`]) before they change.
//!
//! The mount options are in [`options`], the layers of a mount in [`layers`], name lookup
//! through the layers in [`lookup`] and merged directory reading in [`readdir`].

use kernel::{
    c_str,
    cred::Credential,
    prelude::*,
    vfs::{
        self,
        change::{NewObject, SetAttr},
        inode::Kstat,
        param::Param,
        param::Params,
        Dentry, DirEmitter, Entry, FileSystem, FsContext, NewSuperBlock, Path,
    },
};

mod copy_up;
mod layers;
mod lookup;
mod namei;
mod options;
mod readdir;
mod xattr;

module! {
    type: UnionModule,
    name: "unionfs",
    author: "Ferrite developers",
    description: "overlayfs-compatible union mounts in Rust",
    license: "GPL",
}

struct UnionFs;

static UNIONFS: vfs::Type<UnionFs> = vfs::Type::new();

impl FileSystem for UnionFs {
    const NAME: &'static CStr = c_str!("unionfs");
    const OWNER: &'static ThisModule = &THIS_MODULE;
    const PARAMS: Params = options::PARAMS;
    type Context = options::Options;
    type Data = layers::Union;
    type Dentry = lookup::Stack;
    type Dir = Pin<KBox<readdir::MergedDir>>;

    fn parse_param(fc: &FsContext, ctx: &mut options::Options, param: Param<'_>) -> Result {
        ctx.parse(fc, param)
    }

    fn fill_super(
        fc: &FsContext,
        ctx: &mut options::Options,
        sb: &NewSuperBlock<'_, Self>,
    ) -> Result<(layers::Union, Entry<Self>)> {
        layers::Union::new(fc, ctx, sb)
    }

    fn creds(data: &layers::Union) -> &Credential {
        &data.creds
    }

    fn real(stack: &lookup::Stack) -> &Path {
        stack.top()
    }

    fn watched(stack: &lookup::Stack, f: &mut dyn FnMut(&Path)) {
        stack.paths().for_each(f);
    }

    fn lookup(parent: &Dentry<Self>, name: &[u8]) -> Result<Option<Entry<Self>>> {
        lookup::lookup(parent, name)
    }

    fn revalidate(dentry: &Dentry<Self>) -> Result<bool> {
        lookup::revalidate(dentry)
    }

    fn setattr(dentry: &Dentry<Self>, attr: &mut SetAttr) -> Result {
        copy_up::setattr(dentry, attr)
    }

    fn make(
        parent: &Dentry<Self>,
        dentry: &Dentry<Self>,
        mode: u32,
        what: NewObject<'_>,
    ) -> Result<Entry<Self>> {
        namei::make(parent, dentry, mode, what)
    }

    fn link(old: &Dentry<Self>, parent: &Dentry<Self>, new: &Dentry<Self>) -> Result<Entry<Self>> {
        namei::link(old, parent, new)
    }

    fn remove(parent: &Dentry<Self>, dentry: &Dentry<Self>, is_dir: bool) -> Result {
        namei::remove(parent, dentry, is_dir)
    }

    fn rename(
        old_parent: &Dentry<Self>,
        old: &Dentry<Self>,
        new_parent: &Dentry<Self>,
        new: &Dentry<Self>,
        flags: u32,
    ) -> Result {
        namei::rename(old_parent, old, new_parent, new, flags)
    }

    fn getxattr(dentry: &Dentry<Self>, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        xattr::get(dentry, name, buf)
    }

    fn setxattr(dentry: &Dentry<Self>, name: &CStr, value: Option<&[u8]>, flags: u32) -> Result {
        xattr::set(dentry, name, value, flags)
    }

    fn listxattr(dentry: &Dentry<Self>, buf: &mut [u8]) -> Result<usize> {
        xattr::list(dentry, buf)
    }

    fn open_real(dentry: &Dentry<Self>, flags: u32) -> Result<Path> {
        copy_up::open_real(dentry, flags)
    }

    fn keeps_atime(dentry: &Dentry<Self>, real: &Path) -> bool {
        // Reading never writes to a lower layer, as on overlayfs.
        dentry
            .data()
            .and_then(|stack| stack.upper())
            .is_none_or(|upper| !upper.same(real))
    }

    fn getattr(dentry: &Dentry<Self>, stat: &mut Kstat, request_mask: u32, flags: u32) -> Result {
        lookup::getattr(dentry, stat, request_mask, flags)
    }

    fn open_dir(_dentry: &Dentry<Self>) -> Result<Pin<KBox<readdir::MergedDir>>> {
        readdir::MergedDir::new()
    }

    fn read_dir(
        dir: &Pin<KBox<readdir::MergedDir>>,
        dentry: &Dentry<Self>,
        emitter: &mut DirEmitter,
    ) -> Result {
        dir.read(dentry, emitter)
    }

    fn rewind_dir(dir: &Pin<KBox<readdir::MergedDir>>) {
        dir.rewind();
    }
}

struct UnionModule {
    _registration: vfs::Registration<UnionFs>,
}

impl kernel::Module for UnionModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self {
            _registration: vfs::Registration::new(&UNIONFS)?,
        })
    }
}
