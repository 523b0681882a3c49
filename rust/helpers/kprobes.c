// SPDX-License-Identifier: GPL-2.0

#include <linux/ptrace.h>

#ifdef CONFIG_KPROBES
unsigned long rust_helper_regs_get_kernel_argument(struct pt_regs *regs,
						   unsigned int n)
{
	return regs_get_kernel_argument(regs, n);
}
#endif
