// SPDX-License-Identifier: GPL-2.0

//! Merged directory reading.
//!
//! The first read of an open directory reads the real directories of all its layers and keeps
//! the merged list with the open file, as overlayfs does: every name once (the topmost layer's
//! entry), whiteouts and what they hide left out. Position 0 is `.`, 1 is `..` and `2 + i` the
//! `i`-th entry of the list, so positions stay valid across `getdents()` calls and for
//! `telldir()`/`seekdir()` on the same open directory. `rewinddir()` drops the list, and the
//! next read sees the layers as they are then.

use crate::{
    lookup::{is_whiteout, opaque_value},
    UnionFs,
};
use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::Mutex,
    vfs::{Dentry, DirEmitter, Path},
};

/// One entry of a merged directory; its name is in the directory's [`Names`].
struct DirEntry {
    /// Where the name starts in [`Names`], and its length.
    name: (usize, usize),
    ino: u64,
    d_type: u32,
    /// The index in the directory's stack of the layer it was read from.
    layer: usize,
    whiteout: bool,
}

/// The names of a directory's entries, end to end: one allocation for all of them.
#[derive(Default)]
struct Names(KVec<u8>);

impl Names {
    fn add(&mut self, name: &[u8]) -> Result<(usize, usize)> {
        let start = self.0.len();
        self.0.extend_from_slice(name, GFP_KERNEL)?;
        Ok((start, name.len()))
    }

    fn get(&self, (start, len): (usize, usize)) -> &[u8] {
        &self.0[start..start + len]
    }
}

/// A directory's merged entries and their names.
struct Listing {
    entries: KVec<DirEntry>,
    names: Names,
}

/// What an open union directory keeps: its merged entries, once read.
#[pin_data]
pub(crate) struct MergedDir {
    #[pin]
    entries: Mutex<Option<Listing>>,
}

impl MergedDir {
    /// A directory not read yet.
    pub(crate) fn new() -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            pin_init!(Self {
                entries <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )
    }

    /// Forgets the entries read, for `rewinddir()`.
    pub(crate) fn rewind(&self) {
        *self.entries.lock() = None;
    }

    /// Emits entries from the emitter's position on.
    pub(crate) fn read(&self, dentry: &Dentry<UnionFs>, emitter: &mut DirEmitter) -> Result {
        let mut guard = self.entries.lock();
        let listing = match &mut *guard {
            Some(listing) => listing,
            cache => cache.insert(merge(dentry)?),
        };
        let Some(ino) = dentry.ino() else {
            return Err(ENOENT);
        };
        let mut pos = emitter.pos();
        loop {
            let emitted = match pos {
                0 => emitter.emit(b".", ino, bindings::DT_DIR),
                1 => emitter.emit(
                    b"..",
                    dentry.parent().ino().unwrap_or(ino),
                    bindings::DT_DIR,
                ),
                _ => {
                    let index = usize::try_from(pos - 2).ok();
                    let Some(e) = index.and_then(|i| listing.entries.get(i)) else {
                        break;
                    };
                    emitter.emit(listing.names.get(e.name), e.ino, e.d_type)
                }
            };
            if !emitted {
                break;
            }
            pos += 1;
            emitter.set_pos(pos);
        }
        Ok(())
    }
}

/// Reads one real directory's entries, except `.` and `..`, onto `out`; `xwhiteouts` says
/// whether its empty regular files may be attribute whiteouts.
fn read_layer(dentry: &Dentry<UnionFs>, dir: &Path, layer: usize, out: &mut Listing) -> Result {
    let union = dentry.super_data();
    let mut err = Ok(());
    dir.read_dir(&union.creds, |name, ino, d_type| {
        if name == b"." || name == b".." {
            return true;
        }
        err = out.names.add(name).and_then(|name| {
            out.entries
                .push(
                    DirEntry {
                        name,
                        ino,
                        d_type,
                        layer,
                        whiteout: false,
                    },
                    GFP_KERNEL,
                )
                .map_err(Into::into)
        });
        err.is_ok()
    })?;
    err?;
    Ok(())
}

/// Returns whether the union directory shows no entries (whiteouts do not count).
pub(crate) fn is_empty(dentry: &Dentry<UnionFs>) -> Result<bool> {
    Ok(merge(dentry)?.entries.is_empty())
}

/// Reads and merges the entries of all layers of a directory.
fn merge(dentry: &Dentry<UnionFs>) -> Result<Listing> {
    let stack = dentry.data().ok_or(ENOENT)?;
    let union = dentry.super_data();
    let paths = stack.paths();
    let count = stack.len();
    let mut all = Listing {
        entries: KVec::new(),
        names: Names::default(),
    };
    union.creds.with_override(|| -> Result {
        for (i, dir) in paths.enumerate() {
            let start = all.entries.len();
            match read_layer(dentry, dir, i, &mut all) {
                // A layer directory removed directly has no entries.
                Err(e) if e == ENOENT => continue,
                ret => ret?,
            }
            // Attribute whiteouts count only in directories marked as holding them, and not in
            // the lowest layer, which has nothing below to hide.
            let xwhiteouts = i + 1 < count && opaque_value(dir) == Some(b'x');
            for e in &mut all.entries[start..] {
                let candidate =
                    e.d_type == bindings::DT_CHR || (xwhiteouts && e.d_type == bindings::DT_REG);
                if candidate {
                    // The entry may be gone since: then it hides nothing.
                    let name = all.names.get(e.name);
                    e.whiteout = dir.lookup_child(name)?.is_some_and(|p| is_whiteout(&p));
                }
            }
        }
        Ok(())
    })?;
    // Each name once, from the topmost layer that has it; whiteouts and what they hide go.
    let names = all.names;
    let mut all = all.entries;
    all.sort_unstable_by(|a, b| {
        names
            .get(a.name)
            .cmp(names.get(b.name))
            .then(a.layer.cmp(&b.layer))
    });
    let mut merged = KVec::with_capacity(all.len(), GFP_KERNEL)?;
    let mut previous: Option<&[u8]> = None;
    for e in all.into_iter() {
        let name = names.get(e.name);
        let hidden = previous == Some(name);
        previous = Some(name);
        if !hidden && !e.whiteout {
            merged.push(e, GFP_KERNEL)?;
        }
    }
    Ok(Listing {
        entries: merged,
        names,
    })
}
