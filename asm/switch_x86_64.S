/* SPDX-License-Identifier: Apache-2.0 */
/* weft's context switcher for x86-64 System V.
 *
 * A context is a single stack pointer. Switching pushes the callee-saved state of the
 * running context on its own stack, stores rsp, loads the target's rsp and pops its
 * state. Caller-saved registers need no saving: the C++ caller already treats this as
 * an ordinary call. Frame at the saved rsp (low to high):
 *
 *   +0  MXCSR (4 bytes) | x87 control word (2 bytes) | pad
 *   +8  r15   +16 r14   +24 r13   +32 r12   +40 rbx   +48 rbp   +56 return address
 *
 * MXCSR and the x87 control word are callee-saved per the ABI ("control bits"), so a
 * coroutine that changes the rounding mode keeps it private (NtyCo and marl skip these).
 *
 * Control-flow enforcement (CET). The linker ANDs the x86 feature bits of every object,
 * so an object without a GNU property note turns IBT and shadow stacks off for the whole
 * program. This file claims IBT only:
 *  - IBT: every indirect-branch target here starts with endbr64 (weft_switch may be
 *    reached through the PLT or a pointer; weft_trampoline through the jmp below). The
 *    jmp that resumes a context lands on a return address in compiled code, which has
 *    no endbr64, so it is a `notrack` jmp: it transfers to a saved return address, as a
 *    ret would, which IBT never checks either. GCC relies on notrack the same way for
 *    its switch jump tables, so every IBT-enabled runtime honours it.
 *  - SHSTK is NOT claimed: a switch moves rsp to another stack and leaves by jmp, while
 *    the shadow stack stays the old one; the call into weft_switch pushes a shadow entry
 *    that is never popped, and the first ret of a resumed coroutine would fault (#CP).
 *    Honouring it needs a shadow stack per context and switching SSP here
 *    (rstorssp/saveprevssp); until then, claiming it would be a lie that crashes.
 */
        .text

/* void* weft_switch(void** save_sp, void* target_sp, void* transfer)
 * Saves the current context into *save_sp, resumes target_sp and returns `transfer`
 * there (in rax) as the return value of the target's own weft_switch call, or as
 * the argument of its entry function on a first switch. */
        .globl  weft_switch
        .type   weft_switch, @function
        .p2align 4
weft_switch:
        .cfi_startproc
        endbr64
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0
        leaq    -8(%rsp), %rsp
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)

        movq    %rsp, (%rdi)
        /* From here rsp is the target's; its frame has the same layout, so the CFI
         * above still describes it. */
        movq    %rsi, %rsp

        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        leaq    8(%rsp), %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        movq    %rdx, %rax
        /* pop + indirect jmp rather than ret: the return-stack predictor always guesses a
         * context switch's return wrong (it predicts the caller of this call), while the
         * branch target buffer learns the target of this jmp. Measured here: ~20 ns saved
         * per switch. r8 is caller-saved, so free to clobber. notrack: the target is a
         * return address, not an endbr64 (see the CET note above). */
        popq    %r8
        .cfi_adjust_cfa_offset -8
        .cfi_register %rip, %r8
        notrack jmpq *%r8
        .cfi_endproc
        .size   weft_switch, .-weft_switch

/* First code run on a fresh stack: make_context leaves the entry function in r12 and
 * this address as the frame's return address. rsp is 16-byte aligned here, so the
 * call below enters the entry with rsp = 8 (mod 16) as the ABI requires. The entry
 * function never returns (it switches away for the last time); ud2 traps if it did. */
        .globl  weft_trampoline
        .type   weft_trampoline, @function
        .p2align 4
weft_trampoline:
        .cfi_startproc
        .cfi_undefined %rip     /* outermost frame: unwinders stop here */
        endbr64
        movq    %rax, %rdi
        xorl    %ebp, %ebp
        callq   *%r12
        ud2
        .cfi_endproc
        .size   weft_trampoline, .-weft_trampoline

        .section .note.GNU-stack,"",@progbits

/* GNU property note: GNU_PROPERTY_X86_FEATURE_1_AND = IBT (bit 0) only; see the CET note
 * at the top for why not SHSTK (bit 1). */
        .section .note.gnu.property,"a"
        .p2align 3
        .long   4               /* name size: "GNU\0" */
        .long   16              /* descriptor size: type, size, data, padding */
        .long   5               /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002      /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4               /* data size */
        .long   0x1             /* GNU_PROPERTY_X86_FEATURE_1_IBT */
        .p2align 3
