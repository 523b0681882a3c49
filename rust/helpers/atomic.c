// SPDX-License-Identifier: GPL-2.0

#include <linux/atomic.h>

bool rust_helper_atomic_inc_not_zero(atomic_t *v)
{
	return atomic_inc_not_zero(v);
}
