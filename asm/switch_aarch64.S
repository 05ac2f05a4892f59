/* SPDX-License-Identifier: Apache-2.0 */
/* weft's context switcher for AArch64 Linux (AAPCS64).
 *
 * A context is a single stack pointer, as on x86-64 (asm/switch_x86_64.S): switching
 * stores the callee-saved state of the running context on its own stack, stores sp,
 * loads the target's sp and reloads its state. Caller-saved registers (x0-x18, the high
 * halves of v8-v15, v0-v7, v16-v31, NZCV, FPSR) need no saving: the C++ caller already
 * treats this as an ordinary call. The callee-saved state of AAPCS64 is x19-x28, the
 * frame pointer x29, the link register x30, sp, the low 64 bits of v8-v15 (d8-d15) and
 * FPCR (rounding mode, flush-to-zero, default-NaN: the "control bits", like MXCSR's).
 * Frame at the saved sp, 176 bytes (a multiple of 16, so sp stays 16-byte aligned, which
 * AArch64 checks on every sp-based access), low to high:
 *
 *   +0   d8   +8   d9   +16  d10  +24  d11  +32  d12  +40  d13  +48  d14  +56  d15
 *   +64  x19  +72  x20  +80  x21  +88  x22  +96  x23  +104 x24  +112 x25  +120 x26
 *   +128 x27  +136 x28  +144 FPCR +152 (pad)
 *   +160 x29  +168 x30, signed with PACIASP (modifier: sp on entry = frame + 176)
 *
 * x29/x30 sit at the top like an ordinary frame record, so a frame-pointer walk from a
 * switched-out context's x29 reaches its caller.
 *
 * Branch protection. The linker ANDs the AArch64 feature bits of every object, so an
 * object without a GNU property note turns BTI off for the whole program (and drops the
 * PAC marking). This file claims both, and honours both:
 *  - BTI: weft_switch and weft_pac_sign are called through the PLT or a pointer (BLR), so
 *    they start with BTI c; weft_trampoline is entered by RET (not checked by BTI) but
 *    has one too, being a global whose address is taken. Resuming a context is a RET to
 *    the saved x30, which BTI never checks, so compiled return sites need no pad.
 *  - PAC (pac-ret): the return address saved in a switched-out frame is signed with the
 *    A key and the context's own sp as modifier, and authenticated when the context
 *    resumes, so a stray write into a parked coroutine's stack cannot redirect it. The
 *    first frame of a fresh stack holds weft_trampoline's address signed the same way
 *    by make_context (weft_pac_sign). The A key is per process, so a coroutine that
 *    migrates between worker threads still authenticates.
 * The instructions are written as HINT encodings (BTI c = hint 34, PACIASP = hint 25,
 * AUTIASP = hint 29, PACIA1716 = hint 8): NOPs on cores without BTI/PAC, and they
 * assemble for plain armv8-a.
 */
        .text

/* void* weft_switch(void** save_sp, void* target_sp, void* transfer)
 * Saves the current context into *save_sp, resumes target_sp and returns `transfer`
 * there (in x0) as the return value of the target's own weft_switch call, or as the
 * argument of its entry function on a first switch. */
        .globl  weft_switch
        .type   weft_switch, %function
        .p2align 4
weft_switch:
        .cfi_startproc
        hint    #34                     /* bti c */
        hint    #25                     /* paciasp: sign x30, modifier sp */
        .cfi_negate_ra_state
        sub     sp, sp, #176
        .cfi_def_cfa_offset 176
        stp     x29, x30, [sp, #160]
        .cfi_offset x29, -16
        .cfi_offset x30, -8
        stp     x19, x20, [sp, #64]
        .cfi_offset x19, -112
        .cfi_offset x20, -104
        stp     x21, x22, [sp, #80]
        .cfi_offset x21, -96
        .cfi_offset x22, -88
        stp     x23, x24, [sp, #96]
        .cfi_offset x23, -80
        .cfi_offset x24, -72
        stp     x25, x26, [sp, #112]
        .cfi_offset x25, -64
        .cfi_offset x26, -56
        stp     x27, x28, [sp, #128]
        .cfi_offset x27, -48
        .cfi_offset x28, -40
        stp     d8, d9, [sp, #0]
        .cfi_offset d8, -176
        .cfi_offset d9, -168
        stp     d10, d11, [sp, #16]
        .cfi_offset d10, -160
        .cfi_offset d11, -152
        stp     d12, d13, [sp, #32]
        .cfi_offset d12, -144
        .cfi_offset d13, -136
        stp     d14, d15, [sp, #48]
        .cfi_offset d14, -128
        .cfi_offset d15, -120
        mrs     x10, fpcr
        str     x10, [sp, #144]

        mov     x9, sp
        str     x9, [x0]
        /* From here sp is the target's; its frame has the same layout (x30 signed the
         * same way), so the CFI above still describes it. */
        mov     sp, x1

        /* An FPCR write may be costly (some cores serialise on it), and nearly every
         * switch finds the mode unchanged: skip it then. */
        ldr     x9, [sp, #144]
        cmp     x9, x10
        b.eq    1f
        msr     fpcr, x9
1:
        ldp     d8, d9, [sp, #0]
        ldp     d10, d11, [sp, #16]
        ldp     d12, d13, [sp, #32]
        ldp     d14, d15, [sp, #48]
        ldp     x19, x20, [sp, #64]
        ldp     x21, x22, [sp, #80]
        ldp     x23, x24, [sp, #96]
        ldp     x25, x26, [sp, #112]
        ldp     x27, x28, [sp, #128]
        ldp     x29, x30, [sp, #160]
        add     sp, sp, #176
        .cfi_def_cfa_offset 0
        .cfi_restore x19
        .cfi_restore x20
        .cfi_restore x21
        .cfi_restore x22
        .cfi_restore x23
        .cfi_restore x24
        .cfi_restore x25
        .cfi_restore x26
        .cfi_restore x27
        .cfi_restore x28
        .cfi_restore x29
        .cfi_restore x30                /* in the register now, still signed */
        .cfi_restore d8
        .cfi_restore d9
        .cfi_restore d10
        .cfi_restore d11
        .cfi_restore d12
        .cfi_restore d13
        .cfi_restore d14
        .cfi_restore d15
        hint    #29                     /* autiasp: sp is back to the value it was signed with */
        .cfi_negate_ra_state
        mov     x0, x2
        ret
        .cfi_endproc
        .size   weft_switch, .-weft_switch
        /* weft-switch-probe counts the instructions between the two symbols. */
        .globl  weft_switch_end
        .type   weft_switch_end, %function
weft_switch_end:
        .size   weft_switch_end, 0

/* First code run on a fresh stack: make_context leaves the entry function in x19 and
 * this address (signed) as the frame's x30, so weft_switch's RET lands here with the
 * first `transfer` in x0 and sp = the stack's 16-byte aligned top, as a call requires.
 * The entry function never returns (it switches away for the last time); BRK traps if
 * it did. */
        .globl  weft_trampoline
        .type   weft_trampoline, %function
        .p2align 4
weft_trampoline:
        .cfi_startproc
        .cfi_undefined x30              /* outermost frame: unwinders stop here */
        hint    #34                     /* bti c */
        mov     x29, xzr                /* end of the frame-pointer chain */
        mov     x30, xzr
        blr     x19
        brk     #0x3e8
        .cfi_endproc
        .size   weft_trampoline, .-weft_trampoline

/* void* weft_pac_sign(void* return_address, void* sp)
 * return_address signed as PACIASP would sign it with this sp (PACIA1716: x17 signed,
 * modifier x16); unchanged on a core without PAC. make_context uses it for the fresh
 * frame's x30, which weft_switch authenticates with sp = stack top. */
        .globl  weft_pac_sign
        .type   weft_pac_sign, %function
        .p2align 4
weft_pac_sign:
        .cfi_startproc
        hint    #34                     /* bti c */
        mov     x17, x0
        mov     x16, x1
        hint    #8                      /* pacia1716 */
        mov     x0, x17
        ret
        .cfi_endproc
        .size   weft_pac_sign, .-weft_pac_sign

        .section .note.GNU-stack,"",%progbits

/* GNU property note: GNU_PROPERTY_AARCH64_FEATURE_1_AND = BTI (bit 0) | PAC (bit 1). */
        .section .note.gnu.property,"a"
        .p2align 3
        .long   4               /* name size: "GNU\0" */
        .long   16              /* descriptor size: type, size, data, padding */
        .long   5               /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000      /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4               /* data size */
        .long   0x3             /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI | _PAC */
        .p2align 3
