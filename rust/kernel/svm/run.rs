// SPDX-License-Identifier: GPL-2.0

//! `VMRUN`: the switch from the host to a guest and back.

use core::arch::asm;

/// The guest's general-purpose registers that the VMCB does not hold (it holds `RAX`, `RSP`,
/// `RIP` and `RFLAGS`).
///
/// The layout is fixed: the code entering the guest loads and stores the fields by offset.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct GuestRegs {
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
}

/// The guest's x87 and SSE state, in the `FXSAVE` format, loaded into the FPU while the guest
/// runs and saved back at `#VMEXIT`.
///
/// # Invariants
///
/// `area` is a valid `FXRSTOR` image: it is either the reset state or what `FXSAVE` stored.
#[repr(C, align(16))]
pub struct GuestFpu {
    area: [u8; 512],
}

impl GuestFpu {
    /// The state after reset (`FNINIT`, and `MXCSR` at its power-on value).
    pub fn new() -> Self {
        let mut area = [0u8; 512];
        // FCW: all exceptions masked, 64-bit precision, round to nearest.
        area[0] = 0x7f;
        area[1] = 0x03;
        // MXCSR: all exceptions masked (0x1f80).
        area[24] = 0x80;
        area[25] = 0x1f;
        // INVARIANT: the reset state, with no reserved bit set.
        Self { area }
    }
}

impl Default for GuestFpu {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs a guest until its next `#VMEXIT`.
///
/// Saves the host's `VMSAVE` state to `host_vmsave`, loads the guest's from the VMCB, loads the
/// guest registers and FPU state, and executes `VMRUN` with the global interrupt flag clear
/// and `RFLAGS.IF` set, so that a physical interrupt makes the guest exit (the VMCB intercepts
/// it) and is then taken by the host once interrupts are enabled again. Then it all goes back.
///
/// # Safety
///
/// SVM must be enabled on this CPU with a host save area; `vmcb` and `host_vmsave` must be the
/// physical addresses of pages that live through the call, the first a VMCB whose guest
/// cannot reach memory it must not; interrupts must be disabled and the FPU owned by the
/// kernel (`kernel_fpu_begin`).
pub(super) unsafe fn vmrun(vmcb: u64, host_vmsave: u64, regs: &mut GuestRegs, fpu: &mut GuestFpu) {
    // SAFETY: the caller guarantees the preconditions above. The block saves and restores
    // RBX and RBP itself (the compiler reserves them), leaves RSP as it found it (VMRUN
    // restores the host's), and tells the compiler every other register is clobbered.
    unsafe {
        asm!(
            "clgi",
            "push %rbp",
            "push %rbx",
            "push %rcx",
            "push %rdi",
            "push %rdx",
            "fxrstor64 (%rcx)",
            // Host state that VMRUN does not switch, then the guest's.
            "mov %rdx, %rax",
            "vmsave %rax",
            "mov %rsi, %rax",
            "vmload %rax",
            "mov 0x00(%rdi), %rbx",
            "mov 0x08(%rdi), %rcx",
            "mov 0x10(%rdi), %rdx",
            "mov 0x18(%rdi), %rsi",
            "mov 0x28(%rdi), %rbp",
            "mov 0x30(%rdi), %r8",
            "mov 0x38(%rdi), %r9",
            "mov 0x40(%rdi), %r10",
            "mov 0x48(%rdi), %r11",
            "mov 0x50(%rdi), %r12",
            "mov 0x58(%rdi), %r13",
            "mov 0x60(%rdi), %r14",
            "mov 0x68(%rdi), %r15",
            "mov 0x20(%rdi), %rdi",
            // GIF is clear: interrupts stay pending until the guest runs, and exit it.
            "sti",
            "vmrun %rax",
            // #VMEXIT: host RAX (the VMCB), RSP and RIP are back; GIF is clear again.
            "vmsave %rax",
            "push %rdi",
            "mov 0x10(%rsp), %rdi",
            "mov %rbx, 0x00(%rdi)",
            "mov %rcx, 0x08(%rdi)",
            "mov %rdx, 0x10(%rdi)",
            "mov %rsi, 0x18(%rdi)",
            "mov %rbp, 0x28(%rdi)",
            "mov %r8, 0x30(%rdi)",
            "mov %r9, 0x38(%rdi)",
            "mov %r10, 0x40(%rdi)",
            "mov %r11, 0x48(%rdi)",
            "mov %r12, 0x50(%rdi)",
            "mov %r13, 0x58(%rdi)",
            "mov %r14, 0x60(%rdi)",
            "mov %r15, 0x68(%rdi)",
            "pop %rax",
            "mov %rax, 0x20(%rdi)",
            "pop %rax",
            "vmload %rax",
            "pop %rdi",
            "pop %rcx",
            "fxsave64 (%rcx)",
            "pop %rbx",
            "pop %rbp",
            "cli",
            "stgi",
            inout("rdi") regs as *mut GuestRegs => _,
            inout("rsi") vmcb => _,
            inout("rdx") host_vmsave => _,
            inout("rcx") fpu as *mut GuestFpu => _,
            out("rax") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            options(att_syntax),
        );
    }
}
