// SPDX-License-Identifier: GPL-2.0

#include <linux/dcache.h>
#include <linux/delayed_call.h>
#include <linux/fs.h>
#include <linux/fs_stack.h>
#include <linux/mount.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>

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

void rust_helper_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

void rust_helper_inode_lock_nested(struct inode *inode, unsigned int subclass)
{
	inode_lock_nested(inode, subclass);
}

void rust_helper_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

int rust_helper_get_write_access(struct inode *inode)
{
	return get_write_access(inode);
}

void rust_helper_put_write_access(struct inode *inode)
{
	put_write_access(inode);
}

bool rust_helper_fatal_signal_pending(struct task_struct *p)
{
	return fatal_signal_pending(p);
}

struct inode *rust_helper_file_inode(const struct file *f)
{
	return file_inode(f);
}

void rust_helper_fsstack_copy_attr_times(struct inode *dest, const struct inode *src)
{
	fsstack_copy_attr_times(dest, src);
}

void rust_helper_do_delayed_call(struct delayed_call *call)
{
	do_delayed_call(call);
}
