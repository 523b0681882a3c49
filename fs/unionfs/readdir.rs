// SPDX-License-Identifier: GPL-2.0

//! Merged directory reading.
//!
//! The first read of an open directory reads the real directories of all its layers and keeps
//! the merged list with the open file, as overlayfs does: every name once (the topmost layer's
//! entry), whiteouts and what they hide left out, layer by layer from the top, each in its real
//! directory's order. Position 0 is `.`, 1 is `..` and `2 + i` the
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
#[derive(Clone, Copy)]
struct DirEntry {
    /// Where the name starts in [`Names`], and its length.
    name: (usize, usize),
    ino: u64,
    d_type: u32,
    whiteout: bool,
}

/// The names of a directory's entries, end to end: one allocation for all of them.
struct Names(KVVec<u8>);

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
    entries: KVVec<DirEntry>,
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
fn read_layer(dentry: &Dentry<UnionFs>, dir: &Path, out: &mut Listing) -> Result {
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
        entries: KVVec::new(),
        names: Names(KVVec::new()),
    };
    union.creds.with_override(|| -> Result {
        for (i, dir) in paths.enumerate() {
            let start = all.entries.len();
            match read_layer(dentry, dir, &mut all) {
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
    // Each name once, from the topmost layer that has it (the layers were read top down);
    // whiteouts and what they hide go.
    let mut seen = Seen::new(all.entries.len())?;
    let mut merged = KVVec::with_capacity(all.entries.len(), GFP_KERNEL)?;
    for (i, e) in all.entries.iter().enumerate() {
        if seen.add(&all, i) && !e.whiteout {
            merged.push(*e, GFP_KERNEL)?;
        }
    }
    Ok(Listing {
        entries: merged,
        names: all.names,
    })
}

/// The names met while merging a directory, as an open-addressing hash table of entries: each
/// entry is checked against those of the layers above it in constant time, where sorting all
/// of them by name would move every entry about `log2(n)` times.
struct Seen {
    /// Per slot: the high half of the name's hash, and the entry's index plus one (0: free).
    slots: KVVec<u64>,
}

impl Seen {
    /// A table for up to `count` entries, at most half full.
    fn new(count: usize) -> Result<Self> {
        if u32::try_from(count).is_err() {
            return Err(ENOMEM);
        }
        let size = (2 * count).next_power_of_two().max(16);
        Ok(Self {
            slots: KVVec::from_elem(0, size, GFP_KERNEL)?,
        })
    }

    /// Adds entry `index` of `listing`; returns `false` if an entry added before has its name.
    fn add(&mut self, listing: &Listing, index: usize) -> bool {
        let name_of = |i: usize| listing.names.get(listing.entries[i].name);
        let name = name_of(index);
        let hash = hash(name);
        let tag = hash >> 32;
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            let found = self.slots[slot];
            if found == 0 {
                self.slots[slot] = tag << 32 | (index as u64 + 1);
                return true;
            }
            if found >> 32 == tag && name_of((found as u32 - 1) as usize) == name {
                return false;
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// A hash of a name, eight bytes at a time; the last steps spread every byte over the low bits,
/// which pick the slot.
fn hash(name: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let h = name.chunks(8).fold(name.len() as u64, |h, chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        (h.rotate_left(29) ^ u64::from_le_bytes(word)).wrapping_mul(K)
    });
    let h = (h ^ (h >> 32)).wrapping_mul(K);
    h ^ (h >> 29)
}
