// SPDX-License-Identifier: GPL-2.0

//! Where an ext4 directory's blocks are.
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
///
/// Context: may sleep (reads metadata that is not cached).
pub(crate) fn block_map(
    dev: &AddressSpace,
    block_bits: u32,
    ino: u64,
    units: usize,
    out: &mut KVec<u64>,
) -> Result {
    let g = Geometry::read(dev, block_bits)?;
    if ino == 0 {
        return Err(EINVAL);
    }
    let group = (ino - 1) / g.inodes_per_group;
    let index = (ino - 1) % g.inodes_per_group;

    let mut desc = [0u8; 64];
    let desc_len = g.desc_size.min(64) as usize;
    let gdt = g.block(g.first_data_block + 1)?;
    dev.read(gdt + group * g.desc_size, &mut desc[..desc_len])?;
    let mut table = u64::from(le32(&desc, 0x8));
    if desc_len >= 64 {
        table |= u64::from(le32(&desc, 0x28)) << 32;
    }

    let mut inode = [0u8; 128];
    dev.read(g.block(table)? + index * g.inode_size, &mut inode)?;
    let flags = le32(&inode, 0x20);
    if flags & INLINE_DATA_FL != 0 {
        return Err(EINVAL);
    }
    let i_block = &inode[0x28..0x28 + 60];

    let mut m = Mapper { dev, g, units, out };
    if flags & EXTENTS_FL != 0 {
        let depth = le16(i_block, 6);
        if depth > MAX_DEPTH {
            return Err(EINVAL);
        }
        m.extent_node(i_block, depth)
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
        Ok(())
    }
}
