// SPDX-License-Identifier: GPL-2.0

#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/rcupdate.h>

struct dentry *rust_helper_dget(struct dentry *dentry)
{
	return dget(dentry);
}

bool rust_helper_d_unhashed(const struct dentry *dentry)
{
	return d_unhashed(dentry);
}

bool rust_helper_dir_emit(struct dir_context *ctx, const char *name, int namelen,
			  u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, namelen, ino, type);
}

loff_t rust_helper_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

struct mnt_idmap *rust_helper_mnt_idmap(const struct vfsmount *mnt)
{
	return mnt_idmap(mnt);
}

void rust_helper_rcu_read_lock(void)
{
	rcu_read_lock();
}

void rust_helper_rcu_read_unlock(void)
{
	rcu_read_unlock();
}
