// SPDX-License-Identifier: GPL-2.0

//! Name lookup through the layers, with overlayfs's whiteouts and opaque directories.
//!
//! A name is looked up in each layer directory of its parent, top first:
//!
//! - a whiteout (a 0/0 character device, or an empty regular file with the
//!   `trusted.overlay.whiteout` attribute) hides the name in the layers below it;
//! - a non-directory is the object shown, unless a directory was found above it, and ends the
//!   search;
//! - directories found in successive layers are merged, down to the first opaque one
//!   (`trusted.overlay.opaque` = `y`);
//! - an upper regular file with `trusted.overlay.metacopy` has only its metadata there: its
//!   data is the lower regular file of the same name ([`copy_up`](crate::copy_up)).

use crate::{layers::Union, UnionFs};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    bindings, c_str,
    prelude::*,
    vfs::{inode::next_ino, inode::Kstat, set_once::SetOnce, Dentry, Entry, FileType, Path},
};

/// The attribute that marks an empty regular file as a whiteout.
const XATTR_WHITEOUT: &CStr = c_str!("trusted.overlay.whiteout");
/// The attribute that marks a directory opaque (`y`) or as holding attribute whiteouts (`x`).
pub(crate) const XATTR_OPAQUE: &CStr = c_str!("trusted.overlay.opaque");
/// The attribute that marks an upper regular file as a metadata-only copy; overlayfs 6.12 writes
/// it empty unless it records an fs-verity digest.
pub(crate) const XATTR_METACOPY: &CStr = c_str!("trusted.overlay.metacopy");
/// The attribute of a metacopy file overlayfs renamed that names where its lower data is.
const XATTR_REDIRECT: &CStr = c_str!("trusted.overlay.redirect");

/// What a positive union dentry keeps: the real paths it shows, top first: the upper layer's
/// object, if any, and the lower layers' objects, each with the index of its lower layer. A
/// non-directory has one real path (the upper one once copied up); a directory has one per
/// layer merged.
///
/// The upper path is set once, by the lookup or by copy-up, and then stays. A metacopy file
/// reads its data from its first lower path until its data is copied up.
///
/// # Invariants
///
/// The upper path is set or `lower` is not empty; `metacopy` is only set when `lower` is not
/// empty.
pub(crate) struct Stack {
    upper: SetOnce<Path>,
    lower: KVec<(usize, Path)>,
    metacopy: AtomicBool,
}

impl Stack {
    /// Makes a stack of `upper` and `lower`; there must be at least one path.
    pub(crate) fn new(upper: Option<Path>, lower: KVec<(usize, Path)>) -> Result<Self> {
        if upper.is_none() && lower.is_empty() {
            return Err(EINVAL);
        }
        // INVARIANT: checked above; `metacopy` is not set.
        Ok(Self {
            upper: upper.map_or_else(SetOnce::new, SetOnce::with),
            lower,
            metacopy: AtomicBool::new(false),
        })
    }

    /// Makes the stack of a metacopy file: its upper object and the lower one with its data.
    fn new_metacopy(upper: Path, data: (usize, Path)) -> Result<Self> {
        let mut lower = KVec::with_capacity(1, GFP_KERNEL)?;
        lower.push(data, GFP_KERNEL)?;
        // INVARIANT: `lower` is not empty.
        Ok(Self {
            upper: SetOnce::with(upper),
            lower,
            metacopy: AtomicBool::new(true),
        })
    }

    /// Returns whether the upper object is a metacopy whose data is still the lower object's.
    pub(crate) fn is_metacopy(&self) -> bool {
        self.metacopy.load(Ordering::Acquire)
    }

    /// The real path that holds the data: the lower one of a metacopy file, else the top.
    pub(crate) fn data_path(&self) -> &Path {
        match self.lower.first() {
            Some((_, lower)) if self.is_metacopy() => lower,
            _ => self.top(),
        }
    }

    /// Records the metadata-only copy made by copy-up; returns it back if an upper object is
    /// recorded already.
    pub(crate) fn set_metacopy_upper(&self, upper: Path) -> core::result::Result<(), Path> {
        if self.lower.is_empty() {
            return Err(upper);
        }
        // Readers that see the upper object must see it is a metacopy. INVARIANT: `lower` is
        // not empty.
        self.metacopy.store(true, Ordering::Release);
        self.upper.set(upper).inspect_err(|_| {
            self.metacopy.store(false, Ordering::Release);
        })
    }

    /// Records that the upper object now holds the data too.
    pub(crate) fn clear_metacopy(&self) {
        self.metacopy.store(false, Ordering::Release);
    }

    /// The topmost real path, whose object the union shows.
    pub(crate) fn top(&self) -> &Path {
        match self.upper.get() {
            Some(upper) => upper,
            None => &self.lower[0].1,
        }
    }

    /// The lower layer of the topmost real path, `None` for the upper layer.
    pub(crate) fn top_layer(&self) -> Option<usize> {
        match self.upper.get() {
            Some(_) => None,
            None => Some(self.lower[0].0),
        }
    }

    /// The upper layer's object, if there is one.
    pub(crate) fn upper(&self) -> Option<&Path> {
        self.upper.get()
    }

    /// Records the upper object made by copy-up; returns it back if one is recorded already.
    pub(crate) fn set_upper(&self, upper: Path) -> core::result::Result<(), Path> {
        self.upper.set(upper)
    }

    /// The topmost lower object, if there is one.
    pub(crate) fn lower(&self) -> Option<&Path> {
        self.lower.first().map(|(_, p)| p)
    }

    /// The lower layers' paths, top first.
    pub(crate) fn lower_paths(&self) -> impl Iterator<Item = &Path> {
        self.lower.iter().map(|(_, p)| p)
    }

    /// The real paths, top first.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &Path> + Clone {
        Iterator::chain(
            self.upper.get().into_iter(),
            self.lower.iter().map(|(_, p)| p),
        )
    }

    /// The number of real paths.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.upper.get().is_some()) + self.lower.len()
    }

    /// Returns whether the two stacks show the same objects: the same topmost real path and,
    /// for directories, the same lower directories merged.
    fn same(&self, other: &Stack) -> bool {
        if !self.top().same(other.top()) || self.is_metacopy() != other.is_metacopy() {
            return false;
        }
        if self.is_metacopy() {
            return self.data_path().same(other.data_path());
        }
        !self.top().is_dir()
            || (self.lower.len() == other.lower.len()
                && self
                    .lower
                    .iter()
                    .zip(other.lower.iter())
                    .all(|(a, b)| a.0 == b.0 && a.1.same(&b.1)))
    }
}

/// The value of a directory's `trusted.overlay.opaque`, if it has a one-byte value.
pub(crate) fn opaque_value(dir: &Path) -> Option<u8> {
    let mut val = [0u8; 1];
    match dir.getxattr(XATTR_OPAQUE, &mut val) {
        Ok(1) => Some(val[0]),
        _ => None,
    }
}

/// Returns whether a real object is a whiteout.
pub(crate) fn is_whiteout(path: &Path) -> bool {
    path.is_whiteout_device()
        || (path.file_type() == Some(FileType::Regular)
            && path.size() == 0
            && path.getxattr(XATTR_WHITEOUT, &mut []).is_ok())
}

/// What one layer directory has for a name.
enum Found {
    Nothing,
    Whiteout,
    Object(Path),
}

fn find(dir: &Path, name: &[u8]) -> Result<Found> {
    // A layer directory removed directly is dead: nothing is found in it, as in overlayfs.
    match dir.lookup_child(name) {
        Ok(Some(path)) if is_whiteout(&path) => Ok(Found::Whiteout),
        Ok(Some(path)) => Ok(Found::Object(path)),
        Ok(None) => Ok(Found::Nothing),
        Err(e) if e == ENOENT => Ok(Found::Nothing),
        Err(e) => Err(e),
    }
}

/// Returns whether a real object is a metacopy regular file.
pub(crate) fn is_metacopy(path: &Path) -> bool {
    path.file_type() == Some(FileType::Regular) && path.getxattr(XATTR_METACOPY, &mut []).is_ok()
}

/// The lower regular file with the data of a metacopy file: what the first of `dirs` that has
/// `name` has there, if that is a regular file.
fn find_data<'a>(
    dirs: impl Iterator<Item = (usize, &'a Path)>,
    name: &[u8],
) -> Result<Option<(usize, Path)>> {
    for (layer, dir) in dirs {
        match find(dir, name)? {
            Found::Nothing => continue,
            Found::Object(path) if path.file_type() == Some(FileType::Regular) => {
                return Ok(Some((layer, path)));
            }
            _ => break,
        }
    }
    Ok(None)
}

/// The lower regular file at the absolute redirect `path` (`/a/b/c`): in the first lower layer
/// where the directories lead to something at the last name, if that is a regular file.
fn find_data_absolute(union: &Union, path: &[u8]) -> Result<Option<(usize, Path)>> {
    let mut names = path.split(|&b| b == b'/').filter(|n| !n.is_empty());
    let Some(last) = names.next_back() else {
        return Ok(None);
    };
    'layers: for (i, layer) in union.layers.iter().enumerate() {
        let mut dir = layer.root.clone();
        for name in names.clone() {
            match find(&dir, name)? {
                Found::Object(sub) if sub.is_dir() => dir = sub,
                _ => continue 'layers,
            }
        }
        match find(&dir, last)? {
            Found::Nothing => continue,
            Found::Object(path) if path.file_type() == Some(FileType::Regular) => {
                return Ok(Some((i, path)));
            }
            _ => break,
        }
    }
    Ok(None)
}

/// Finds the data of the metacopy file `upper` called `name`: the lower regular file of the same
/// name, or for a file overlayfs renamed, the one its `trusted.overlay.redirect` names (a name in
/// the same directory, or a path from the layer roots). With `metacopy=off` the file is refused
/// (`EPERM`), as overlayfs refuses it.
fn metacopy_stack(union: &Union, dirs: &Stack, upper: Path, name: &[u8]) -> Result<Stack> {
    let dirs = dirs.lower.iter().map(|(layer, dir)| (*layer, dir));
    let data = match upper.getxattr(XATTR_REDIRECT, &mut []) {
        Ok(len) => {
            let mut redirect = KVec::from_elem(0u8, len, GFP_KERNEL)?;
            let len = upper.getxattr(XATTR_REDIRECT, &mut redirect)?;
            match redirect.get(..len).ok_or(EIO)? {
                [] => return Err(EIO),
                path @ [b'/', ..] => find_data_absolute(union, path)?,
                name if name.contains(&b'/') => return Err(EIO),
                name => find_data(dirs, name)?,
            }
        }
        Err(_) => find_data(dirs, name)?,
    };
    // No lower data: overlayfs aborts the lookup too.
    let data = data.ok_or(EIO)?;
    if !union.metacopy {
        return Err(EPERM);
    }
    Stack::new_metacopy(upper, data)
}

/// Looks `name` up below the real directories of `dirs`, as the mounter.
pub(crate) fn lookup_stack(union: &Union, dirs: &Stack, name: &[u8]) -> Result<Option<Stack>> {
    let mut upper = None;
    let mut found = KVec::new();
    if let Some(dir) = dirs.upper() {
        match find(dir, name)? {
            Found::Nothing => {}
            Found::Whiteout => return Ok(None),
            Found::Object(path) if is_metacopy(&path) => {
                return metacopy_stack(union, dirs, path, name).map(Some);
            }
            Found::Object(path) => {
                let stop = !path.is_dir() || opaque_value(&path) == Some(b'y');
                upper = Some(path);
                if stop {
                    return Stack::new(upper, found).map(Some);
                }
            }
        }
    }
    for (layer, dir) in &dirs.lower {
        let path = match find(dir, name)? {
            Found::Nothing => continue,
            Found::Whiteout => break,
            Found::Object(path) => path,
        };
        let above = upper.is_some() || !found.is_empty();
        if path.is_dir() {
            let opaque = opaque_value(&path) == Some(b'y');
            found.push((*layer, path), GFP_KERNEL)?;
            if opaque {
                break;
            }
        } else {
            // A non-directory below a directory is hidden by it.
            if !above {
                found.push((*layer, path), GFP_KERNEL)?;
            }
            break;
        }
    }
    if upper.is_none() && found.is_empty() {
        return Ok(None);
    }
    Stack::new(upper, found).map(Some)
}

/// Looks `name` up in the union directory `parent`.
pub(crate) fn lookup(parent: &Dentry<UnionFs>, name: &[u8]) -> Result<Option<Entry<UnionFs>>> {
    let Some(dirs) = parent.data() else {
        return Ok(None);
    };
    let union = parent.super_data();
    let Some(stack) = union
        .creds
        .with_override(|| lookup_stack(union, dirs, name))?
    else {
        return Ok(None);
    };
    let ino = if union.samefs {
        // A metacopy file keeps its lower object's number, as in overlayfs.
        stack.data_path().ino()
    } else {
        next_ino()
    };
    Ok(Some(Entry { data: stack, ino }))
}

/// Checks a cached union dentry against the layers: it is still right if looking its name up
/// again finds the same real objects (or, for a negative one, still none).
pub(crate) fn revalidate(dentry: &Dentry<UnionFs>) -> Result<bool> {
    let parent = dentry.parent();
    if core::ptr::eq(&*parent, dentry) {
        return Ok(true);
    }
    let Some(dirs) = parent.data() else {
        return Ok(false);
    };
    let name = dentry.name()?;
    let union = dentry.super_data();
    let now = union
        .creds
        .with_override(|| lookup_stack(union, dirs, &name))?;
    Ok(match (dentry.data(), now) {
        (None, None) => true,
        (Some(cached), Some(now)) => cached.same(&now),
        _ => false,
    })
}

/// Fills `stat` from the topmost real object, with overlayfs's device and inode numbers: the
/// union's device for everything when all layers are on one filesystem; otherwise the union's
/// device and inode number for directories, and a device number per layer filesystem for the
/// rest.
///
/// A file copied up keeps the inode number of its lower object while the union knows it (for a
/// metacopy file, as long as it stays one) when all layers are on one filesystem and neither
/// object has other links, as overlayfs keeps its copy-up origin's; a metacopy file shows the
/// blocks of its lower data.
pub(crate) fn getattr(
    dentry: &Dentry<UnionFs>,
    stat: &mut Kstat,
    request_mask: u32,
    flags: u32,
) -> Result {
    let stack = dentry.data().ok_or(ENOENT)?;
    let union = dentry.super_data();
    union
        .creds
        .with_override(|| stack.top().getattr(stat, request_mask, flags))?;
    let is_dir = stack.top().is_dir();
    if let (false, Some(_), Some(lower)) = (is_dir, stack.upper(), stack.lower()) {
        let mut origin = Kstat::new();
        let mask = bindings::STATX_INO | bindings::STATX_BLOCKS | bindings::STATX_NLINK;
        union
            .creds
            .with_override(|| lower.getattr(&mut origin, mask, flags))?;
        if stack.is_metacopy() {
            stat.set_blocks(origin.blocks());
        }
        if union.samefs && stat.nlink() == 1 && origin.nlink() == 1 {
            stat.set_ino(origin.ino());
        }
    }
    if union.samefs {
        stat.set_dev(dentry.super_dev());
    } else if is_dir {
        stat.set_dev(dentry.super_dev());
        stat.set_ino(dentry.ino().ok_or(ENOENT)?);
    } else if let Some(dev) = stack.top_layer().and_then(|l| union.pseudo_dev(l)) {
        stat.set_dev(dev);
    }
    // A merged directory's link count would be wrong in either layer; overlayfs shows 1.
    if is_dir && stack.len() > 1 {
        stat.set_nlink(1);
    }
    Ok(())
}
