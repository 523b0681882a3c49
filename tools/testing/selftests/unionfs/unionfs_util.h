/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the unionfs kselftests share: mount calls that return -errno,
 * path formatting, and the kernel's taint flags (no test may change them).
 */
#ifndef UNIONFS_UTIL_H
#define UNIONFS_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATH_LEN 512

static inline int sys_mount(const char *src, const char *dst, const char *type,
			    unsigned long flags, const char *data)
{
	return syscall(__NR_mount, src, dst, type, flags, data) ? -errno : 0;
}

static inline int sys_umount(const char *dst)
{
	return syscall(__NR_umount2, dst, 0) ? -errno : 0;
}

static inline char *pathf(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATH_LEN, fmt, ap);
	va_end(ap);
	return buf;
}

static inline long read_tainted(void)
{
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");
	long t = -1;

	if (f) {
		if (fscanf(f, "%ld", &t) != 1)
			t = -1;
		fclose(f);
	}
	return t;
}

#endif /* UNIONFS_UTIL_H */
