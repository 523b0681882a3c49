// SPDX-License-Identifier: GPL-2.0

#include <linux/io.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

void rust_helper_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}

void rust_helper_vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vm_flags_clear(vma, flags);
}

bool rust_helper_access_ok(const void __user *addr, unsigned long n)
{
	return access_ok(addr, n);
}

void *rust_helper_page_address(const struct page *page)
{
	return page_address(page);
}

phys_addr_t rust_helper_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}
