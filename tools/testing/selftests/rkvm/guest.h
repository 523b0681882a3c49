/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest payloads of guest.S: each runs from guest_<name>_start up to
 * guest_<name>_end, copied to the guest physical address it is built for.
 */
#ifndef RKVM_SELFTEST_GUEST_H
#define RKVM_SELFTEST_GUEST_H

#include <stdint.h>

#define GUEST_PAYLOAD(name) \
	extern const uint8_t guest_##name##_start[], guest_##name##_end[]

GUEST_PAYLOAD(real);
GUEST_PAYLOAD(switch);
GUEST_PAYLOAD(paged32);
GUEST_PAYLOAD(edit);
GUEST_PAYLOAD(pf);
GUEST_PAYLOAD(triple);
GUEST_PAYLOAD(mmio);
GUEST_PAYLOAD(spin);
GUEST_PAYLOAD(long);
GUEST_PAYLOAD(hostile);
GUEST_PAYLOAD(cswitch);

/* Where the switch payload's 32-bit code starts, with flat segments. */
extern const uint8_t guest_switch_flat[];

#endif
