/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest payloads of the rkvm selftests, assembled into the test program and
 * copied into guest memory at the address each one is built for. Each payload
 * only uses addresses relative to its own start, plus its load address.
 *
 * Ports: 0x3f8 text output, 0x80/0x84 values (8/32 bits), 0x61/0x62 input.
 */

	.section .rodata.guest, "a"

/* Real mode, loaded at 0x1000 and entered at 0000:1000. */
#define REAL(sym) ((sym) - guest_real_start + 0x1000)
	.code16
	.globl guest_real_start, guest_real_end
guest_real_start:
	mov	$0x3f8, %dx
	mov	$REAL(real_hello), %si
1:	lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx
	jmp	1b
2:	in	$0x61, %al
	out	%al, $0x80
	mov	$REAL(real_world), %si
	mov	$5, %cx
	rep outsb
	mov	$0x62, %dx
	mov	$REAL(real_buf), %di
	mov	$4, %cx
	rep insb
	mov	REAL(real_buf), %eax
	out	%eax, $0x84
	hlt
real_hello:
	.asciz	"hello"
real_world:
	.ascii	"world"
real_buf:
	.long	0
guest_real_end:

/*
 * Real mode to 32-bit protected mode through the guest's own GDT and CR0
 * write, loaded at 0x1000 and entered at 0000:1000.
 */
#define SWITCH(sym) ((sym) - guest_switch_start + 0x1000)
	.globl guest_switch_start, guest_switch_end
guest_switch_start:
	lgdtl	SWITCH(switch_gdtr)
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x08, $SWITCH(switch_32)
	.code32
switch_32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %ss
	.globl	guest_switch_flat
guest_switch_flat:			/* entered here with flat segments set by the VMM */
	mov	%cr0, %eax
	out	%eax, $0x84
	movl	$0x12345678, 0x3000
	mov	0x3000, %eax
	out	%eax, $0x84
	hlt
	.p2align 3
switch_gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* 32-bit code, flat */
	.quad	0x00cf93000000ffff	/* data, flat */
switch_gdtr:
	.word	switch_gdtr - switch_gdt - 1
	.long	SWITCH(switch_gdt)
guest_switch_end:

/*
 * 32-bit code run with flat segments, with or without paging, loaded at
 * 0x2000. With paging, the test's tables map 0x40000000 to the 4 KiB page at
 * 0x200000, and 0x80000000 to the large page at 0.
 */
	.code32
	.globl guest_paged32_start, guest_paged32_end
guest_paged32_start:
	mov	0x40000000, %eax	/* marker the VMM left at 0x200000 */
	out	%eax, $0x84
	movl	$0xcafe0001, 0x40000004	/* lands at 0x200004 */
	mov	0x80000000 + 0x200004, %eax	/* read back through the large page */
	out	%eax, $0x84
	hlt
guest_paged32_end:

/*
 * The guest edits its own page table: the PTE address is in EBX, the new
 * entry in ECX. It flushes with INVLPG and reads 0x40000000 again, then
 * reloads CR3 and reads once more.
 */
	.globl guest_edit_start, guest_edit_end
guest_edit_start:
	mov	0x40000000, %eax
	out	%eax, $0x84
	mov	%ecx, (%ebx)
	invlpg	0x40000000
	mov	0x40000000, %eax
	out	%eax, $0x84
	mov	%edx, (%ebx)		/* back to the first page */
	mov	%cr3, %eax
	mov	%eax, %cr3
	mov	0x40000000, %eax
	out	%eax, $0x84
	hlt
guest_edit_end:

/*
 * A page fault handled by the guest: the IDT at 0x6000 sends #PF to the
 * handler, which reports CR2 and the error code, makes the PTE in EBX present
 * with the entry in ECX, and returns to retry the access.
 */
#define PF(sym) ((sym) - guest_pf_start + 0x2000)
	.globl guest_pf_start, guest_pf_end
guest_pf_start:
	lidt	PF(pf_idtr)
	movl	$0x5a5a5a5a, 0x50000000	/* not present until the handler maps it */
	mov	0x50000000, %eax
	out	%eax, $0x84
	hlt
pf_handler:
	mov	%cr2, %eax
	out	%eax, $0x84
	pop	%eax			/* error code */
	out	%eax, $0x84
	mov	%ecx, (%ebx)
	iret
	.p2align 3
pf_idt:
	.fill	14, 8, 0
	.word	PF(pf_handler)		/* offset 15..0 */
	.word	0x08			/* selector */
	.word	0x8e00			/* present, 32-bit interrupt gate */
	.word	0			/* offset 31..16 */
pf_idtr:
	.word	pf_idtr - pf_idt - 1
	.long	PF(pf_idt)
guest_pf_end:

/* A triple fault: no usable IDT, then an invalid opcode. */
	.globl guest_triple_start, guest_triple_end
guest_triple_start:
	lidt	triple_idtr - guest_triple_start + 0x2000
	ud2
triple_idtr:
	.word	0
	.long	0
guest_triple_end:

/* MMIO at 0xd0000000, outside the memory slot: a write, then a read. */
	.globl guest_mmio_start, guest_mmio_end
guest_mmio_start:
	movl	$0xabcd1234, 0xd0000000
	movw	0xd0000010, %bx
	movzbl	0xd0000020, %ecx
	mov	%ebx, %eax
	out	%eax, $0x84
	mov	%ecx, %eax
	out	%eax, $0x84
	hlt
guest_mmio_end:

/* Spins forever. */
	.globl guest_spin_start, guest_spin_end
guest_spin_start:
1:	jmp	1b
guest_spin_end:

/*
 * 64-bit code, loaded at 0x2000 and run in long mode on the test's tables,
 * which map 0x40000000 to the page at 0x200000, 0x80000000 to the 2 MiB page
 * at 0, and 0x8000000000 to the 1 GiB page at 0.
 */
	.code64
	.globl guest_long_start, guest_long_end
guest_long_start:
	mov	0x40000000, %eax
	out	%eax, $0x84
	movl	$0xcafe0002, 0x40000004
	mov	0x80000000 + 0x200004, %eax
	out	%eax, $0x84
	movabs	$0x8000200004, %rbx
	mov	(%rbx), %eax
	out	%eax, $0x84
	mov	$0x80000001, %eax
	cpuid
	mov	%edx, %eax
	out	%eax, $0x84
	hlt
guest_long_end:

	.section .rodata.guest, "a"
/*
 * A hostile guest, 32-bit, loaded at 0x2000 with an IDT at its idt label:
 * each attempt to reach the host must fault in the guest. The #UD and #GP
 * handlers report the vector and skip the instruction (its length in EDI).
 * Then it reads through its own page table entry for 0x60000000, which
 * points far outside its memory (an MMIO read), and halts.
 */
#define HOSTILE(sym) ((sym) - guest_hostile_start + 0x2000)
	.code32
	.globl guest_hostile_start, guest_hostile_end
guest_hostile_start:
	lidt	HOSTILE(hostile_idtr)
	mov	$3, %edi
	mov	$0x1000, %eax
	vmrun
	vmload
	vmsave
	mov	$2, %edi
	mov	$0xc0011020, %ecx	/* a host configuration MSR */
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
	mov	$0xc0000080, %ecx	/* EFER.SVME */
	mov	$0x1000, %eax
	wrmsr
	mov	0x60000000, %eax
	out	%eax, $0x84
	hlt
hostile_ud:
	push	%eax
	mov	$6, %eax
	out	%eax, $0x84
	pop	%eax
	add	%edi, (%esp)
	iret
hostile_gp:
	push	%eax
	mov	$13, %eax
	out	%eax, $0x84
	pop	%eax
	add	$4, %esp		/* error code */
	add	%edi, (%esp)
	iret
	.p2align 3
hostile_idt:
	.fill	6, 8, 0
	.word	HOSTILE(hostile_ud), 0x08, 0x8e00, 0
	.fill	6, 8, 0
	.word	HOSTILE(hostile_gp), 0x08, 0x8e00, 0
hostile_idtr:
	.word	hostile_idtr - hostile_idt - 1
	.long	HOSTILE(hostile_idt)
guest_hostile_end:

/*
 * Context switches between four address spaces, 32-bit, at 0x2000: the CR3
 * values are at 0x3000, the loop count in ECX. Each space maps 0x40000000 to
 * a page holding its number; the sum of what was read goes out on port 0x84.
 */
	.globl guest_cswitch_start, guest_cswitch_end
guest_cswitch_start:
	xor	%ebx, %ebx
1:	mov	%ecx, %eax
	and	$3, %eax
	mov	0x3000(,%eax,4), %eax
	mov	%eax, %cr3
	add	0x40000000, %ebx
	loop	1b
	mov	%ebx, %eax
	out	%eax, $0x84
	hlt
guest_cswitch_end:
	.section .note.GNU-stack,"",@progbits
