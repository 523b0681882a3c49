// SPDX-License-Identifier: GPL-2.0

//! The page tables a guest runs on: guest-virtual addresses mapped, 4 KiB at a time, to pages
//! the hypervisor pinned for it.

use super::RootStamp;
use super::{page_address, page_phys};
use crate::{
    alloc::{flags::*, KBox, KVec},
    error::{code::*, Result},
    mm::PinnedPage,
    page::Page,
    sync::Arc,
};
use core::sync::atomic::{AtomicU64, Ordering};

/// The source of [`Root`] identities.
static NEXT_ROOT_ID: AtomicU64 = AtomicU64::new(1);

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const NO_EXECUTE: u64 = 1 << 63;

/// The entries of one table.
const ENTRIES: usize = 512;

/// How a guest may use a mapped page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// Writes are allowed.
    pub write: bool,
    /// User-mode (CPL 3) accesses are allowed.
    pub user: bool,
    /// Instructions may be fetched from it.
    pub exec: bool,
}

impl Access {
    /// Everything allowed.
    pub const ALL: Self = Self {
        write: true,
        user: true,
        exec: true,
    };

    fn bits(self) -> u64 {
        let mut bits = PRESENT;
        if self.write {
            bits |= WRITABLE;
        }
        if self.user {
            bits |= USER;
        }
        if !self.exec {
            bits |= NO_EXECUTE;
        }
        bits
    }
}

/// What an entry points at: the table or page is owned by the entry, so that the processor
/// never reaches memory that is gone.
enum Child {
    Table(KBox<Table>),
    Page { _pinned: Arc<PinnedPage> },
}

/// One table of the hierarchy.
///
/// # Invariants
///
/// Entry `i` of `page` is zero when `children[i]` is `None`, and otherwise points at the
/// child: a table of level `level - 1`, or (only at level 1) a pinned page. `children` has
/// `ENTRIES` elements.
struct Table {
    level: u8,
    page: Page,
    children: KVec<Option<Child>>,
}

impl Table {
    fn new(level: u8, flags: crate::alloc::Flags) -> Result<Self> {
        let page = Page::alloc_page(flags | __GFP_ZERO)?;
        let mut children = KVec::with_capacity(ENTRIES, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..ENTRIES {
            children.push(None, GFP_KERNEL_ACCOUNT)?;
        }
        // INVARIANT: all entries are zero and have no child.
        Ok(Self {
            level,
            page,
            children,
        })
    }

    fn entries(&self) -> &[AtomicU64; ENTRIES] {
        // SAFETY: the page is ours, 4 KiB and page aligned; it is only accessed atomically (by
        // us, and by the processor walking it).
        unsafe { &*(page_address(&self.page) as *const [AtomicU64; ENTRIES]) }
    }

    fn set(&mut self, index: usize, value: u64, child: Option<Child>) -> Option<Child> {
        self.entries()[index].store(value, Ordering::Relaxed);
        core::mem::replace(&mut self.children[index], child)
    }

    /// The table below entry `index`, made (with `entry_bits` in the entry) if missing.
    /// Returns it and the number of tables made.
    fn child_table(&mut self, index: usize, entry_bits: u64) -> Result<(&mut Table, usize)> {
        let mut made = 0;
        if self.children[index].is_none() {
            let table = KBox::new(Table::new(self.level - 1, GFP_KERNEL_ACCOUNT)?, GFP_KERNEL)?;
            let entry = page_phys(&table.page) | entry_bits;
            // INVARIANT: the entry points at a table one level down, which it owns.
            self.set(index, entry, Some(Child::Table(table)));
            made = 1;
        }
        match &mut self.children[index] {
            Some(Child::Table(table)) => Ok((table, made)),
            _ => Err(EINVAL),
        }
    }

    /// The number of tables below this one, itself included.
    fn count(&self) -> usize {
        1 + self
            .children
            .iter()
            .map(|c| match c {
                Some(Child::Table(t)) => t.count(),
                _ => 0,
            })
            .sum::<usize>()
    }
}

/// The paging format of a [`Root`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PAE: three levels, 32-bit virtual addresses; for guests outside long mode.
    Pae,
    /// Four levels, 48-bit virtual addresses; for guests in long mode.
    LongMode,
}

/// The root of the page tables a guest runs on, and everything they map.
///
/// Each mapping is a 4 KiB guest-virtual page mapped to a pinned page, which the tables keep
/// alive while it is mapped. [`super::Svm::run`] runs guests on a root and flushes the guest
/// TLB after a mapping was changed or removed, or when the guest ran on another root before:
/// the root's [`RootStamp`] (its identity and how many removals it saw) tells it.
///
/// # Examples
///
/// ```
/// use kernel::svm::{Access, Format, Root};
///
/// let mut root = Root::new(Format::Pae)?;
/// assert_eq!(root.tables(), 1);
/// assert_eq!(root.lookup(0x1000), None);
/// // Above the 4 GiB a PAE guest can address.
/// # assert!(root.unmap(1 << 32).is_err());
/// // Removing nothing leaves what a guest TLB may hold as it was; another root differs.
/// let stamp = root.stamp();
/// assert_eq!(root.unmap(0x1000), Ok(false));
/// root.clear();
/// assert_eq!(root.stamp(), stamp);
/// assert_ne!(Root::new(Format::Pae)?.stamp(), stamp);
/// # Ok::<(), kernel::error::Error>(())
/// ```
///
/// # Invariants
///
/// `id` is unique among all roots ever made; `changes` grows at every removal or replacement
/// of an entry, so that a guest TLB that saw an older [`RootStamp`] may hold stale entries.
pub struct Root {
    format: Format,
    table: Table,
    id: u64,
    changes: u64,
}

impl Root {
    /// An empty root of the given format.
    pub fn new(format: Format) -> Result<Self> {
        let (level, flags) = match format {
            // The processor loads a PAE root through a 32-bit CR3.
            Format::Pae => (3, GFP_KERNEL_ACCOUNT | __GFP_DMA32),
            Format::LongMode => (4, GFP_KERNEL_ACCOUNT),
        };
        // INVARIANT: a new identity, nothing removed yet.
        Ok(Self {
            format,
            table: Table::new(level, flags)?,
            id: NEXT_ROOT_ID.fetch_add(1, Ordering::Relaxed),
            changes: 0,
        })
    }

    /// The root's format.
    pub fn format(&self) -> Format {
        self.format
    }

    pub(super) fn is_long_mode(&self) -> bool {
        self.format == Format::LongMode
    }

    pub(super) fn phys_addr(&self) -> u64 {
        page_phys(&self.table.page)
    }

    /// What the tables are now, for the guest TLB: a guest that ran on another stamp may
    /// hold translations they no longer have.
    pub fn stamp(&self) -> RootStamp {
        RootStamp::new(self.id, self.changes)
    }

    /// Records that an entry was removed or replaced.
    fn changed(&mut self) {
        // INVARIANT: counts up; 2^64 removals take longer than any machine runs.
        self.changes = self.changes.wrapping_add(1);
    }

    /// The index of `va` in each level, from the root down: the first `levels` of the array.
    fn indexes(&self, va: u64) -> Result<([usize; 4], usize)> {
        let levels = match self.format {
            Format::Pae if va >> 32 == 0 => 3,
            // Canonical: bits 63..47 all equal.
            Format::LongMode if ((va as i64) << 16 >> 16) as u64 == va => 4,
            _ => return Err(EINVAL),
        };
        let mut indexes = [0; 4];
        for (i, level) in (1..=levels).rev().enumerate() {
            indexes[i] = ((va >> (12 + 9 * (level - 1))) & 511) as usize;
        }
        Ok((indexes, levels))
    }

    /// Maps the 4 KiB guest-virtual page at `va` to `page`, with `access`, replacing what was
    /// there. Returns the number of tables it had to make. `EINVAL` if `va` is outside what
    /// the format addresses.
    pub fn map(&mut self, va: u64, page: Arc<PinnedPage>, access: Access) -> Result<usize> {
        let (indexes, levels) = self.indexes(va)?;
        let indexes = &indexes[..levels];
        // PAE root entries may only have the present bit; upper levels allow everything, the
        // leaf decides.
        let upper = if self.format == Format::Pae {
            PRESENT
        } else {
            PRESENT | WRITABLE | USER
        };
        let (mut table, mut made) = self.table.child_table(indexes[0], upper)?;
        for &index in &indexes[1..indexes.len() - 1] {
            let (next, n) = table.child_table(index, PRESENT | WRITABLE | USER)?;
            table = next;
            made += n;
        }
        let entry = page.phys_addr() | access.bits();
        let leaf = indexes[indexes.len() - 1];
        // INVARIANT: `table` is at level 1, and the entry owns the page it points at.
        if table
            .set(leaf, entry, Some(Child::Page { _pinned: page }))
            .is_some()
        {
            self.changed();
        }
        Ok(made)
    }

    /// The leaf entry mapping `va`, if any: the page's physical address and access bits.
    pub fn lookup(&self, va: u64) -> Option<u64> {
        let (indexes, levels) = self.indexes(va).ok()?;
        let indexes = &indexes[..levels];
        let mut table = &self.table;
        for &index in &indexes[..indexes.len() - 1] {
            match &table.children[index] {
                Some(Child::Table(t)) => table = t,
                _ => return None,
            }
        }
        let entry = table.entries()[indexes[indexes.len() - 1]].load(Ordering::Relaxed);
        (entry != 0).then_some(entry)
    }

    /// Removes the mapping of the 4 KiB page at `va`, if any; returns whether there was one.
    pub fn unmap(&mut self, va: u64) -> Result<bool> {
        let (indexes, levels) = self.indexes(va)?;
        let indexes = &indexes[..levels];
        let mut table = &mut self.table;
        for &index in &indexes[..indexes.len() - 1] {
            match &mut table.children[index] {
                Some(Child::Table(t)) => table = t,
                _ => return Ok(false),
            }
        }
        // INVARIANT: a zero entry without a child.
        let removed = table.set(indexes[indexes.len() - 1], 0, None).is_some();
        if removed {
            self.changed();
        }
        Ok(removed)
    }

    /// Removes every mapping and table below the root; returns the number of tables freed.
    pub fn clear(&mut self) -> usize {
        let freed = self.table.count() - 1;
        for index in 0..ENTRIES {
            // INVARIANT: zero entries without children.
            if self.table.set(index, 0, None).is_some() {
                self.changed();
            }
        }
        freed
    }

    /// The number of tables, the root included.
    pub fn tables(&self) -> usize {
        self.table.count()
    }
}
