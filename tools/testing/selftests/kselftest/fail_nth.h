/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocation-failure sweeps for kselftests, through the fail-nth interface of
 * Documentation/fault-injection/fault-injection.rst: once N is written to
 * /proc/thread-self/fail-nth, the Nth fault-injection point the thread
 * reaches fails. A sweep repeats an operation with N = 1, 2, ... until the
 * operation completes without reaching its Nth point: by then each
 * allocation the operation makes in the calling thread has failed once.
 *
 *	int fd = fail_nth_open();
 *
 *	for (n = 1; ; n++) {
 *		fail_nth_arm(fd, n);
 *		ret = operation();
 *		injected = fail_nth_disarm(fd);
 *		... check ret, undo the operation ...
 *		if (!injected)
 *			break;
 *	}
 */
#ifndef __KSELFTEST_FAIL_NTH_H
#define __KSELFTEST_FAIL_NTH_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

static inline int fail_nth_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Lets failslab and fail_page_alloc fail sleeping and order-0 allocations
 * too (by default they spare them), without a report in the kernel log for
 * each failure, and opens the thread's fail-nth file. The descriptor stays
 * open through the sweep, since opening a file allocates. Returns it, or
 * -errno: -ENOENT when the kernel lacks CONFIG_FAULT_INJECTION_DEBUG_FS,
 * CONFIG_FAILSLAB or CONFIG_FAIL_PAGE_ALLOC (or debugfs is not mounted).
 */
static inline int fail_nth_open(void)
{
	static const char *const knobs[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
	};
	char path[128];
	unsigned int i;
	int fd, ret;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s", knobs[i][0]);
		ret = fail_nth_write(path, knobs[i][1]);
		if (ret)
			return ret;
	}
	fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The nth fault-injection point the calling thread reaches from now fails. */
static inline int fail_nth_arm(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

/*
 * Disarms the thread. Returns 1 when the armed point was reached (and
 * failed), 0 when the thread did not get that far, or -errno.
 */
static inline int fail_nth_disarm(int fd)
{
	char buf[16] = "";
	ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);

	if (len <= 0)
		return len ? -errno : -EIO;
	if (pwrite(fd, "0", 1, 0) != 1)
		return -errno;
	return strtoul(buf, NULL, 10) == 0;
}

/*
 * Tells whoever reads the kernel log that the allocation-failure reports
 * that follow are a sweep's doing, not a bug: some allocations (vmalloc's,
 * those without __GFP_NOWARN) print a "page allocation failure" or
 * "vmalloc error" report with a stack dump when they fail. With start, it
 * writes "WHO: allocations fail on purpose: expect allocation failure
 * reports"; without, "WHO: allocations fail no more", which ends the sweep.
 */
static inline void fail_nth_announce(const char *who, bool start)
{
	FILE *kmsg = fopen("/dev/kmsg", "w");

	if (!kmsg)
		return;
	fprintf(kmsg, "%s: %s\n", who,
		start ? "allocations fail on purpose: expect allocation failure reports" :
			"allocations fail no more");
	fclose(kmsg);
}

#endif
