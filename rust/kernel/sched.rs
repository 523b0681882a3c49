// SPDX-License-Identifier: GPL-2.0

//! Scheduling: giving the CPU away in long-running kernel loops.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h)

use crate::bindings;

/// Lets other tasks run if the scheduler wants this CPU back, and returns whether it did.
///
/// A loop that may run for a long time in process context (for example, running a guest
/// until it exits to user space) calls this at each iteration, so that it never stalls the
/// CPU on kernels without full preemption. It may sleep, so it must not be called in atomic
/// context.
///
/// # Examples
///
/// ```
/// let mut rounds = 0;
/// while rounds < 1000 {
///     rounds += 1;
///     kernel::sched::cond_resched();
/// }
/// assert_eq!(rounds, 1000);
/// ```
pub fn cond_resched() -> bool {
    // SAFETY: `cond_resched` may be called from any process context that may sleep, which is
    // what the documentation of this function requires.
    unsafe { bindings::cond_resched() != 0 }
}
