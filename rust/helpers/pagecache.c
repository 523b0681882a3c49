// SPDX-License-Identifier: GPL-2.0

#include <linux/highmem.h>
#include <linux/pagemap.h>

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
