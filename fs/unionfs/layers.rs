// SPDX-License-Identifier: GPL-2.0

//! The layers of a mounted union and the checks overlayfs makes of them.

use crate::{lookup::Stack, options::Options, UnionFs};
use core::sync::atomic::AtomicU32;
use kernel::{
    bindings,
    cred::Credential,
    new_mutex,
    prelude::*,
    sync::Mutex,
    types::ARef,
    vfs::{
        change::{NewObject, SetAttr},
        inode::next_ino,
        super_block::AnonDev,
        Entry, FsContext, NewSuperBlock, Path,
    },
};

/// The name of the directory in `workdir` where copies are built, as overlayfs names it.
const WORK_NAME: &[u8] = b"work";

/// The writable layer of a union.
pub(crate) struct Upper {
    /// The upper layer's root directory.
    pub(crate) root: Path,
    /// `workdir`.
    workbase: Path,
    /// `workdir/work`, where objects are built before they are renamed into the upper layer.
    pub(crate) work: Path,
    /// Serialises copy-ups.
    pub(crate) copy_up_lock: Pin<KBox<Mutex<()>>>,
    /// The next temporary name in the work directory.
    pub(crate) next_temp: AtomicU32,
}

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
    /// The upper layer, for a writable union.
    pub(crate) upper: Option<Upper>,
    /// The mounter's credentials, which the union acts on its layers with.
    pub(crate) creds: ARef<Credential>,
    /// Whether all layers are on one filesystem, whose inode numbers are then unique in the
    /// union.
    pub(crate) samefs: bool,
    /// `metacopy=on`: metadata changes copy up regular files without their data.
    pub(crate) metacopy: bool,
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
        let upper = match (opts.upper.take(), opts.work.take()) {
            (Some(upper), work) => {
                let work = check_upper(fc, &upper, work)?;
                Some((upper, work))
            }
            // Without an upper layer a work directory has no use: overlayfs ignores it.
            (None, _) => {
                if opts.lower.len() == 1 {
                    return Err(fc.invalf(format_args!(
                        "at least 2 lowerdir are needed while upperdir nonexistent"
                    )));
                }
                None
            }
        };
        let upper = match upper {
            Some((root, workbase)) => Some(setup_upper(fc, root, workbase)?),
            None => None,
        };
        check_overlaps(fc, upper.as_ref(), &opts.lower)?;
        let depth = Iterator::chain(opts.lower.iter(), upper.as_ref().map(|u| &u.root))
            .map(Path::stack_depth)
            .max()
            .unwrap_or(0)
            + 1;
        sb.set_stack_depth(depth)
            .inspect_err(|_| fc.errorf(format_args!("maximum fs stacking depth exceeded")))?;

        let first_dev = opts.lower[0].fs_dev();
        let samefs = opts.lower.iter().all(|l| l.fs_dev() == first_dev)
            && upper.as_ref().is_none_or(|u| u.root.fs_dev() == first_dev);
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
        if upper.is_none() {
            sb.set_read_only();
        }

        let mut stack = KVec::with_capacity(layers.len(), GFP_KERNEL)?;
        for (i, layer) in layers.iter().enumerate() {
            stack.push((i, layer.root.clone()), GFP_KERNEL)?;
        }
        let stack = Stack::new(upper.as_ref().map(|u| u.root.clone()), stack)?;
        let ino = if samefs {
            stack.top().ino()
        } else {
            next_ino()
        };
        let union = Self {
            layers,
            upper,
            creds: Credential::current(),
            samefs,
            metacopy: opts.metacopy,
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

/// overlayfs's checks of the upper layer and work directory, in its order; returns the work
/// directory.
fn check_upper(fc: &FsContext, upper: &Path, work: Option<Path>) -> Result<Path> {
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
    if work.is_within(upper) || upper.is_within(&work) {
        return Err(fc.invalf(format_args!(
            "workdir and upperdir must be separate subtrees"
        )));
    }
    Ok(work)
}

/// Makes `workdir/work` afresh, as overlayfs does: an old one, left by an earlier mount, is
/// emptied and removed first.
fn setup_upper(fc: &FsContext, root: Path, workbase: Path) -> Result<Upper> {
    let work = Credential::current().with_override(|| -> Result<Path> {
        if let Some(old) = workbase.lookup_child(WORK_NAME)? {
            if old.is_dir() {
                clean_dir(&old, 1)?;
            }
            workbase.remove_child(WORK_NAME)?;
        }
        let work = workbase.make_child(WORK_NAME, 0, NewObject::Directory)?;
        // No permission bits: only the mounter's capabilities reach it.
        let mut attr = SetAttr::new();
        attr.set_mode(bindings::S_IFDIR);
        work.setattr(&mut attr)?;
        Ok(work)
    });
    let work = work.inspect_err(|e| {
        fc.errorf(format_args!(
            "failed to create directory workdir/work (errno: {})",
            e.to_errno()
        ))
    })?;
    Ok(Upper {
        root,
        workbase,
        work,
        copy_up_lock: KBox::pin_init(new_mutex!(()), GFP_KERNEL)?,
        next_temp: AtomicU32::new(0),
    })
}

/// Removes what an interrupted copy-up may have left in a work directory: its entries, and
/// theirs down to `depth` levels.
pub(crate) fn clean_dir(dir: &Path, depth: u32) -> Result {
    let mut names: KVec<KVec<u8>> = KVec::new();
    let mut err = Ok(());
    dir.read_dir(&Credential::current(), |name, _ino, _type| {
        if name == b"." || name == b".." {
            return true;
        }
        let mut copy = KVec::new();
        err = copy
            .extend_from_slice(name, GFP_KERNEL)
            .and_then(|()| names.push(copy, GFP_KERNEL));
        err.is_ok()
    })?;
    err?;
    for name in &names {
        if depth > 0 {
            if let Some(child) = dir.lookup_child(name)? {
                if child.is_dir() {
                    clean_dir(&child, depth - 1)?;
                }
            }
        }
        dir.remove_child(name)?;
    }
    Ok(())
}

/// Returns whether `a` is `b` or below it, and not `b` itself.
fn strictly_within(a: &Path, b: &Path) -> bool {
    a.is_within(b) && !b.is_within(a)
}

/// overlayfs's checks that layers do not overlap: no two layer roots are one directory, and no
/// lower layer is below another layer root. Like overlayfs, an upper layer or work directory
/// inside a lower layer is let be.
fn check_overlaps(fc: &FsContext, upper: Option<&Upper>, lower: &[Path]) -> Result {
    let eloop = |what: &str, how: &str| {
        fc.errorf(format_args!("{how} {what} path"));
        Error::from_errno(-(bindings::ELOOP as i32))
    };
    let mut roots: KVec<&Path> = KVec::new();
    if let Some(upper) = upper {
        roots.push(&upper.root, GFP_KERNEL)?;
        roots.push(&upper.workbase, GFP_KERNEL)?;
        roots.push(&upper.work, GFP_KERNEL)?;
    }
    for l in lower {
        if roots.iter().any(|r| l.is_within(r) && r.is_within(l)) {
            return Err(eloop("lowerdir", "conflicting"));
        }
        roots.push(l, GFP_KERNEL)?;
    }
    for l in lower {
        if roots.iter().any(|r| strictly_within(l, r)) {
            return Err(eloop("lowerdir", "overlapping"));
        }
    }
    Ok(())
}
