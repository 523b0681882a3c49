// SPDX-License-Identifier: GPL-2.0

//! The layers of a mounted union and the checks overlayfs makes of them.

use crate::{lookup::Stack, options::Options, UnionFs};
use kernel::{
    bindings,
    cred::Credential,
    prelude::*,
    types::ARef,
    vfs::{inode::next_ino, super_block::AnonDev, Entry, FsContext, NewSuperBlock, Path},
};

/// `statfs()`'s `f_type` for unions: "unio".
const UNIONFS_SUPER_MAGIC: u64 = 0x756e_696f;

/// A lower layer.
pub(crate) struct Layer {
    /// The layer's root directory.
    pub(crate) root: Path,
    /// The index in [`Union::devs`] of the device number shown for its non-directories when
    /// the layers are on several filesystems.
    fsid: usize,
}

/// What a mounted union keeps.
pub(crate) struct Union {
    /// The lower layers, top first.
    pub(crate) layers: KVec<Layer>,
    /// The mounter's credentials, which the union acts on its layers with.
    pub(crate) creds: ARef<Credential>,
    /// Whether all layers are on one filesystem, whose inode numbers are then unique in the
    /// union.
    pub(crate) samefs: bool,
    /// One anonymous device number per filesystem of the layers, when they are several.
    devs: KVec<AnonDev>,
}

impl Union {
    /// Checks the options and sets up the super block, as overlayfs's `fill_super` does.
    pub(crate) fn new(
        fc: &FsContext,
        opts: &mut Options,
        sb: &NewSuperBlock<'_, UnionFs>,
    ) -> Result<(Self, Entry<UnionFs>)> {
        if opts.lower.is_empty() {
            return Err(fc.invalf(format_args!("missing 'lowerdir'")));
        }
        if let Some(upper) = &opts.upper {
            check_upper(fc, upper, opts.work.as_ref())?;
            return Err(fc.invalf(format_args!(
                "upperdir: writable unions are not supported yet, mount lower layers only"
            )));
        }
        // Without an upper layer a work directory has no use: overlayfs ignores it.
        if opts.lower.len() == 1 {
            return Err(fc.invalf(format_args!(
                "at least 2 lowerdir are needed while upperdir nonexistent"
            )));
        }
        for (i, a) in opts.lower.iter().enumerate() {
            for b in &opts.lower[i + 1..] {
                if a.is_within(b) || b.is_within(a) {
                    fc.errorf(format_args!("overlapping lowerdir path"));
                    return Err(Error::from_errno(-(bindings::ELOOP as i32)));
                }
            }
        }
        let depth = opts.lower.iter().map(Path::stack_depth).max().unwrap_or(0) + 1;
        sb.set_stack_depth(depth)
            .inspect_err(|_| fc.errorf(format_args!("maximum fs stacking depth exceeded")))?;

        let first_dev = opts.lower[0].fs_dev();
        let samefs = opts.lower.iter().all(|l| l.fs_dev() == first_dev);
        let mut fs_devs: KVec<u32> = KVec::new();
        let mut devs = KVec::new();
        let mut layers = KVec::with_capacity(opts.lower.len(), GFP_KERNEL)?;
        for root in core::mem::take(&mut opts.lower) {
            let fsid = match fs_devs.iter().position(|&d| d == root.fs_dev()) {
                Some(fsid) => fsid,
                None => {
                    fs_devs.push(root.fs_dev(), GFP_KERNEL)?;
                    if !samefs {
                        devs.push(AnonDev::new()?, GFP_KERNEL)?;
                    }
                    fs_devs.len() - 1
                }
            };
            layers.push(Layer { root, fsid }, GFP_KERNEL)?;
        }

        sb.set_magic(UNIONFS_SUPER_MAGIC);
        sb.set_read_only();

        let mut stack = KVec::with_capacity(layers.len(), GFP_KERNEL)?;
        for (i, layer) in layers.iter().enumerate() {
            stack.push((i, layer.root.clone()), GFP_KERNEL)?;
        }
        let stack = Stack::new(stack)?;
        let ino = if samefs {
            stack.top().ino()
        } else {
            next_ino()
        };
        let union = Self {
            layers,
            creds: Credential::current(),
            samefs,
            devs,
        };
        Ok((union, Entry { data: stack, ino }))
    }

    /// The device number `stat()` shows for non-directories of layer `layer` when the layers
    /// are on several filesystems.
    pub(crate) fn pseudo_dev(&self, layer: usize) -> Option<u32> {
        let fsid = self.layers.get(layer)?.fsid;
        self.devs.get(fsid).map(AnonDev::dev)
    }
}

/// overlayfs's checks of the upper layer and work directory, in its order.
fn check_upper(fc: &FsContext, upper: &Path, work: Option<&Path>) -> Result {
    let Some(work) = work else {
        return Err(fc.invalf(format_args!("missing 'workdir'")));
    };
    if upper.is_read_only_mount() {
        return Err(fc.invalf(format_args!(
            "upper fs is r/o, try multi-lower layers mount"
        )));
    }
    if !work.same_mount(upper) {
        return Err(fc.invalf(format_args!(
            "workdir and upperdir must reside under the same mount"
        )));
    }
    // The work directory is where copies are built before they are renamed into the upper
    // layer: neither may contain the other.
    if work.is_within(upper) || upper.is_within(work) {
        return Err(fc.invalf(format_args!(
            "workdir and upperdir must be separate subtrees"
        )));
    }
    Ok(())
}
