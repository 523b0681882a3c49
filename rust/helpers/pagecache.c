// SPDX-License-Identifier: GPL-2.0

#include <linux/bio.h>
#include <linux/highmem.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>

bool rust_helper_folio_test_referenced(const struct folio *folio)
{
	return folio_test_referenced(folio);
}

bool rust_helper_folio_test_active(const struct folio *folio)
{
	return folio_test_active(folio);
}

bool rust_helper_folio_test_uptodate(const struct folio *folio)
{
	return folio_test_uptodate(folio);
}

void rust_helper_folio_wait_locked(struct folio *folio)
{
	folio_wait_locked(folio);
}

void rust_helper_folio_put(struct folio *folio)
{
	folio_put(folio);
}

loff_t rust_helper_folio_pos(struct folio *folio)
{
	return folio_pos(folio);
}

size_t rust_helper_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

void rust_helper_memcpy_from_folio(char *to, struct folio *folio, size_t offset,
				   size_t len)
{
	memcpy_from_folio(to, folio, offset, len);
}

gfp_t rust_helper_readahead_gfp_mask(struct address_space *mapping)
{
	return readahead_gfp_mask(mapping);
}

struct folio *rust_helper_filemap_alloc_folio(gfp_t gfp, unsigned int order)
{
	return filemap_alloc_folio(gfp, order);
}

struct bio *rust_helper_bio_alloc(struct block_device *bdev, unsigned short nr_vecs,
				  blk_opf_t opf, gfp_t gfp)
{
	return bio_alloc(bdev, nr_vecs, opf, gfp);
}

void rust_helper_filemap_invalidate_lock_shared(struct address_space *mapping)
{
	filemap_invalidate_lock_shared(mapping);
}

void rust_helper_filemap_invalidate_unlock_shared(struct address_space *mapping)
{
	filemap_invalidate_unlock_shared(mapping);
}

unsigned int rust_helper_memalloc_nofs_save(void)
{
	return memalloc_nofs_save();
}

void rust_helper_memalloc_nofs_restore(unsigned int flags)
{
	memalloc_nofs_restore(flags);
}
