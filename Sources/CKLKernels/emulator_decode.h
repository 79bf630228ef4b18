// The Key Locker instruction decoder of the emulator (emulator_decode.c),
// private to CKLKernels.
#ifndef KLFS_EMULATOR_DECODE_H
#define KLFS_EMULATOR_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The instructions the emulator executes, in klfs_emulator_counters order.
typedef enum klfs_kl_opcode {
    KLFS_KL_ENCODEKEY128,
    KLFS_KL_ENCODEKEY256,
    KLFS_KL_AESENC128KL,
    KLFS_KL_AESDEC128KL,
    KLFS_KL_AESENC256KL,
    KLFS_KL_AESDEC256KL,
    KLFS_KL_AESENCWIDE128KL,
    KLFS_KL_AESDECWIDE128KL,
    KLFS_KL_AESENCWIDE256KL,
    KLFS_KL_AESDECWIDE256KL,
    KLFS_KL_OPCODE_COUNT,
} klfs_kl_opcode;

typedef struct klfs_kl_instruction {
    klfs_kl_opcode opcode;
    unsigned length;    // bytes; the emulator advances RIP by this much
    unsigned reg;       // ModRM.reg + REX.R: ENCODEKEY destination r32, AES*KL destination xmm
    unsigned rm;        // ModRM.rm + REX.B: ENCODEKEY source r32
    uint64_t address;   // AES*KL: effective address of the handle
} klfs_kl_instruction;

// Decodes the instruction at `code` (its address in the interrupted
// context is `rip`; `gpr` holds RAX..R15 in ModRM numbering). Reads only the
// bytes that belong to the instruction. Returns false for anything that is
// not a Key Locker instruction a CPL3 program may execute.
bool klfs_kl_decode(const uint8_t *code, uint64_t rip, const uint64_t gpr[16],
                    klfs_kl_instruction *instruction);

#endif
