// SPDX-License-Identifier: GPL-2.0

//! Where an ext4 directory's blocks are, and where the inodes of directory entries are (ext2
//! and ext4 alike).
//!
//! ext4 gives a module no way to ask: directories have no `bmap` (their mapping has no address
//! space operations) and `ext4_map_blocks()` is not exported. So dirra reads ext4's block map
//! itself, from the on-disk format, through the block device's page cache: the superblock, the
//! group descriptor, the inode, and the extent tree (or, for ext3-style inodes, the block
//! pointers). That page cache is where ext4 keeps and updates this metadata, so the copy is
//! current; it may change while it is read, so what is found is only a hint for readahead:
//! every number is checked against the file system's size, and a wrong block costs one useless
//! read, never a wrong listing.

use kernel::{pagecache::AddressSpace, prelude::*};

const SUPER_OFFSET: u64 = 1024;
const SUPER_MAGIC: u16 = 0xef53;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_64BIT: u32 = 0x80;
const EXTENTS_FL: u32 = 0x0008_0000;
const INLINE_DATA_FL: u32 = 0x1000_0000;
/// A hashed (`dir_index`) directory.
const INDEX_FL: u32 = 0x0000_1000;
/// ext4 refuses deeper hash trees (with `large_dir`).
const MAX_HTREE_LEVELS: u8 = 3;
const EXTENT_MAGIC: u16 = 0xf30a;
/// ext4 refuses deeper extent trees.
const MAX_DEPTH: u16 = 5;
/// Block pointers in an inode: 12 direct, then single, double and triple indirect.
const DIRECT: usize = 12;

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// What is needed of the superblock.
struct Geometry {
    block_bits: u32,
    blocks: u64,
    first_data_block: u64,
    inodes: u64,
    inodes_per_group: u64,
    inode_size: u64,
    desc_size: u64,
}

impl Geometry {
    fn read(dev: &AddressSpace, block_bits: u32) -> Result<Self> {
        let mut sb = [0u8; 1024];
        dev.read(SUPER_OFFSET, &mut sb)?;
        let incompat = le32(&sb, 0x60);
        let g = Self {
            block_bits: 10 + le32(&sb, 0x18),
            blocks: u64::from(le32(&sb, 0x4))
                | if incompat & INCOMPAT_64BIT != 0 {
                    u64::from(le32(&sb, 0x150)) << 32
                } else {
                    0
                },
            first_data_block: u64::from(le32(&sb, 0x14)),
            inodes: u64::from(le32(&sb, 0x0)),
            inodes_per_group: u64::from(le32(&sb, 0x28)),
            inode_size: u64::from(le16(&sb, 0x58)),
            desc_size: if incompat & INCOMPAT_64BIT != 0 {
                u64::from(le16(&sb, 0xfe))
            } else {
                32
            },
        };
        // The group descriptors are elsewhere with meta_bg; not handled.
        if le16(&sb, 0x38) != SUPER_MAGIC
            || incompat & INCOMPAT_META_BG != 0
            || g.block_bits != block_bits
            || g.inodes_per_group == 0
            || g.inode_size < 128
            || g.desc_size < 32
        {
            return Err(EINVAL);
        }
        Ok(g)
    }

    fn block(&self, b: u64) -> Result<u64> {
        if b == 0 || b >= self.blocks {
            return Err(EINVAL);
        }
        Ok(b << self.block_bits)
    }

    /// The first block of the inode table of `group`, from its group descriptor.
    fn inode_table(&self, dev: &AddressSpace, group: u64) -> Result<u64> {
        let mut desc = [0u8; 64];
        let desc_len = self.desc_size.min(64) as usize;
        let gdt = self.block(self.first_data_block + 1)?;
        dev.read(gdt + group * self.desc_size, &mut desc[..desc_len])?;
        let mut table = u64::from(le32(&desc, 0x8));
        if desc_len >= 64 {
            table |= u64::from(le32(&desc, 0x28)) << 32;
        }
        Ok(table)
    }
}

/// Finds the inode-table block of inodes, for reading them ahead ("statahead").
pub(crate) struct InodeTables<'a> {
    dev: &'a AddressSpace,
    g: Geometry,
    /// Recently used groups and their inode tables, by group modulo the size.
    cache: [(u64, u64); 16],
}

impl<'a> InodeTables<'a> {
    /// Reads the geometry of the file system on `dev`, whose blocks are `block_bits` wide.
    ///
    /// Context: may sleep (reads the superblock if it is not cached).
    pub(crate) fn new(dev: &'a AddressSpace, block_bits: u32) -> Result<Self> {
        Ok(Self {
            dev,
            g: Geometry::read(dev, block_bits)?,
            cache: [(u64::MAX, 0); 16],
        })
    }

    /// The device block that holds inode `ino`; `None` for a number out of range or an
    /// unreadable group descriptor.
    ///
    /// Context: may sleep (reads the group descriptor if it is not cached).
    pub(crate) fn block_of(&mut self, ino: u64) -> Option<u64> {
        if ino == 0 || ino > self.g.inodes {
            return None;
        }
        let group = (ino - 1) / self.g.inodes_per_group;
        let index = (ino - 1) % self.g.inodes_per_group;
        let slot = &mut self.cache[(group % 16) as usize];
        if slot.0 != group {
            *slot = (group, self.g.inode_table(self.dev, group).ok()?);
        }
        let block = slot.1 + ((index * self.g.inode_size) >> self.g.block_bits);
        self.g.block(block).ok().map(|_| block)
    }
}

/// Calls `f` with the inode number and the name of each entry of a directory block (ext2 and
/// ext4 use the same entries, with the file type byte after an 8-bit name length), if the block
/// is a well-formed chain of entries; the index blocks of a hashed directory hold none. The
/// block may be changing: this is only a hint.
pub(crate) fn entries(block: &[u8], mut f: impl FnMut(u64, &[u8])) {
    // Entries as (offset of the next, inode, name), or `None` at the end of a well-formed chain.
    let next = |at: usize| -> Option<(usize, u32, &[u8])> {
        let rec_len = usize::from(le16(block, at + 4));
        if rec_len < 8 || rec_len % 4 != 0 || at + rec_len > block.len() {
            return None;
        }
        let name_len = usize::from(block[at + 6]);
        if 8 + name_len > rec_len {
            return None;
        }
        let ino = if name_len != 0 { le32(block, at) } else { 0 };
        Some((at + rec_len, ino, &block[at + 8..at + 8 + name_len]))
    };
    // First check the whole chain, then report: a block that is not a directory block (or is
    // being changed) gives nothing.
    if block.len() < 8 {
        return;
    }
    let mut at = 0;
    while at + 8 <= block.len() {
        match next(at) {
            Some((to, _, _)) => at = to,
            None => return,
        }
    }
    if at != block.len() {
        return;
    }
    let mut at = 0;
    while let Some((to, ino, name)) = next(at) {
        if ino != 0 {
            f(u64::from(ino), name);
        }
        at = to;
        if at + 8 > block.len() {
            break;
        }
    }
}

/// Reads block maps into `out`: the device block of each logical block, in order, up to
/// `units` of them.
struct Mapper<'a> {
    dev: &'a AddressSpace,
    g: Geometry,
    units: usize,
    out: &'a mut KVec<u64>,
}

impl Mapper<'_> {
    fn full(&self) -> bool {
        self.out.len() >= self.units
    }

    /// Records device block `phys` for logical block `logical`; holes read as block 0.
    fn put(&mut self, logical: u64, phys: u64) -> Result {
        if logical as usize > self.units {
            return Ok(());
        }
        while (self.out.len() as u64) < logical && !self.full() {
            self.out.push(0, GFP_KERNEL)?;
        }
        if self.out.len() as u64 == logical && !self.full() {
            self.out
                .push(if phys < self.g.blocks { phys } else { 0 }, GFP_KERNEL)?;
        }
        Ok(())
    }

    fn read_block(&self, b: u64) -> Result<KVec<u8>> {
        let size = 1usize << self.g.block_bits;
        let mut buf = KVec::with_capacity(size, GFP_KERNEL)?;
        buf.extend_with(size, 0, GFP_KERNEL)?;
        self.dev.read(self.g.block(b)?, &mut buf)?;
        Ok(buf)
    }

    /// An extent tree node: a header, then extents (depth 0) or index entries.
    fn extent_node(&mut self, node: &[u8], depth: u16) -> Result {
        if node.len() < 12 || le16(node, 0) != EXTENT_MAGIC || le16(node, 6) != depth {
            return Err(EINVAL);
        }
        let entries = (le16(node, 2) as usize).min((node.len() - 12) / 12);
        for i in 0..entries {
            if self.full() {
                break;
            }
            let e = &node[12 + 12 * i..24 + 12 * i];
            if depth == 0 {
                let logical = u64::from(le32(e, 0));
                let mut len = u64::from(le16(e, 4));
                // Above 32768: an unwritten extent of len - 32768 blocks.
                if len > 32768 {
                    len -= 32768;
                }
                let start = (u64::from(le16(e, 6)) << 32) | u64::from(le32(e, 8));
                for k in 0..len {
                    self.put(logical + k, start + k)?;
                }
            } else {
                let child = (u64::from(le16(e, 8)) << 32) | u64::from(le32(e, 4));
                let block = self.read_block(child)?;
                self.extent_node(&block, depth - 1)?;
            }
        }
        Ok(())
    }

    /// A block of block pointers, `level` levels above the data blocks.
    fn indirect(&mut self, block: u64, level: u32, first: u64) -> Result<u64> {
        let per = 1u64 << (self.g.block_bits - 2);
        if block == 0 {
            return Ok(first + per.pow(level));
        }
        let buf = self.read_block(block)?;
        let mut logical = first;
        for i in 0..per as usize {
            if self.full() {
                break;
            }
            let b = u64::from(le32(&buf, 4 * i));
            if level == 1 {
                self.put(logical, b)?;
                logical += 1;
            } else {
                logical = self.indirect(b, level - 1, logical)?;
            }
        }
        Ok(logical)
    }
}

/// Appends to `out` the device block of each of the first `units` blocks of directory `ino`
/// (0 for a hole), reading the file system's metadata from `dev`, its block device's page cache.
/// Returns whether the directory is hashed (`dir_index`).
///
/// Context: may sleep (reads metadata that is not cached).
pub(crate) fn block_map(
    dev: &AddressSpace,
    block_bits: u32,
    ino: u64,
    units: usize,
    out: &mut KVec<u64>,
) -> Result<bool> {
    let g = Geometry::read(dev, block_bits)?;
    if ino == 0 {
        return Err(EINVAL);
    }
    let group = (ino - 1) / g.inodes_per_group;
    let index = (ino - 1) % g.inodes_per_group;

    let table = g.inode_table(dev, group)?;

    let mut inode = [0u8; 128];
    dev.read(g.block(table)? + index * g.inode_size, &mut inode)?;
    let flags = le32(&inode, 0x20);
    if flags & INLINE_DATA_FL != 0 {
        return Err(EINVAL);
    }
    let i_block = &inode[0x28..0x28 + 60];

    let hashed = flags & INDEX_FL != 0;
    let mut m = Mapper { dev, g, units, out };
    if flags & EXTENTS_FL != 0 {
        let depth = le16(i_block, 6);
        if depth > MAX_DEPTH {
            return Err(EINVAL);
        }
        m.extent_node(i_block, depth).map(|()| hashed)
    } else {
        for i in 0..DIRECT {
            m.put(i as u64, u64::from(le32(i_block, 4 * i)))?;
        }
        let mut logical = DIRECT as u64;
        for level in 1..=3 {
            if m.full() {
                break;
            }
            let b = u64::from(le32(i_block, 4 * (DIRECT + level as usize - 1)));
            logical = m.indirect(b, level, logical)?;
        }
        Ok(hashed)
    }
}

/// Appends to `order` the logical blocks of a hashed directory in the order `getdents()` reads
/// them: the root, then each index block followed by the leaves it points to, in hash order
/// (`ext4_htree_fill_tree()` walks the tree that way). `blocks` maps logical blocks to device
/// blocks ([`block_map`]). Blocks the tree does not reach are left out; an inconsistent tree
/// (it may be changing) stops the walk early.
///
/// Context: may sleep (reads index blocks that are not cached).
pub(crate) fn htree_order(
    dev: &AddressSpace,
    block_bits: u32,
    blocks: &[u64],
    order: &mut KVec<u64>,
) -> Result {
    let size = 1usize << block_bits;
    let mut buf = KVec::from_elem(0u8, size, GFP_KERNEL)?;
    let read = |logical: u64, buf: &mut [u8]| -> Result {
        let phys = *blocks.get(logical as usize).ok_or(EINVAL)?;
        if phys == 0 {
            return Err(EINVAL);
        }
        dev.read(phys << block_bits, buf)
    };
    read(0, &mut buf)?;
    order.push(0, GFP_KERNEL)?;
    // dx_root: "." and "..", then dx_root_info (its length at 0x1d, levels at 0x1e).
    let levels = buf[0x1e];
    let at = 0x18 + usize::from(buf[0x1d]);
    if levels >= MAX_HTREE_LEVELS || at + 8 > size {
        return Err(EINVAL);
    }
    let root = index_entries(&buf, at)?;
    htree_walk(&read, &root, levels, blocks.len() as u64, size, order)
}

/// The block numbers of the entries of an index node whose `dx_countlimit` is at `at`.
fn index_entries(node: &[u8], at: usize) -> Result<KVec<u64>> {
    let limit = usize::from(le16(node, at));
    let count = usize::from(le16(node, at + 2));
    if count == 0 || count > limit || at + 8 * limit > node.len() {
        return Err(EINVAL);
    }
    let mut out = KVec::with_capacity(count, GFP_KERNEL)?;
    for i in 0..count {
        // The first entry has the count and limit where the others have their hash.
        out.push(
            u64::from(le32(node, at + 8 * i + 4) & 0x0fff_ffff),
            GFP_KERNEL,
        )?;
    }
    Ok(out)
}

fn htree_walk(
    read: &impl Fn(u64, &mut [u8]) -> Result,
    entries: &[u64],
    levels: u8,
    units: u64,
    size: usize,
    order: &mut KVec<u64>,
) -> Result {
    for &logical in entries {
        if logical >= units || order.len() as u64 > units {
            return Err(EINVAL);
        }
        order.push(logical, GFP_KERNEL)?;
        if levels > 0 {
            let mut node = KVec::from_elem(0u8, size, GFP_KERNEL)?;
            read(logical, &mut node)?;
            // An index node: an empty entry covering the block, then dx_countlimit.
            let children = index_entries(&node, 8)?;
            htree_walk(read, &children, levels - 1, units, size, order)?;
        }
    }
    Ok(())
}
