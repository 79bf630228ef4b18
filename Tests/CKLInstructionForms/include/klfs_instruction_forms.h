// Test support: every Key Locker instruction in the encodings the emulator
// must decode (REX.R/X/B, SIB scales, disp8/disp32, RIP-relative, SIB
// without base or index), each wrapped in a probe that loads XMM0-15 and
// RFLAGS from a state, executes the one instruction and saves them back.
#ifndef KLFS_INSTRUCTION_FORMS_H
#define KLFS_INSTRUCTION_FORMS_H

#include <stddef.h>
#include <stdint.h>

// Same order as klfs_emulator_counters (after cpuid).
typedef enum klfs_probe_instruction {
    KLFS_PROBE_ENCODEKEY128,
    KLFS_PROBE_ENCODEKEY256,
    KLFS_PROBE_AESENC128KL,
    KLFS_PROBE_AESDEC128KL,
    KLFS_PROBE_AESENC256KL,
    KLFS_PROBE_AESDEC256KL,
    KLFS_PROBE_AESENCWIDE128KL,
    KLFS_PROBE_AESDECWIDE128KL,
    KLFS_PROBE_AESENCWIDE256KL,
    KLFS_PROBE_AESDECWIDE256KL,
} klfs_probe_instruction;

// The machine state around one instruction (offsets fixed by instruction_forms.S).
typedef struct klfs_probe_state {
    uint8_t xmm[16][16]; // in: XMM0-15 before; out: after
    uint64_t rflags_in;  // loaded with POPFQ right before the instruction
    uint64_t rflags_out; // PUSHFQ right after it
    uint64_t source;     // ENCODEKEY: the whole 64-bit source register
    uint64_t destination;// ENCODEKEY: the whole 64-bit destination register
                         // afterwards (preset to all ones)
} klfs_probe_state;

// Runs one form. `handle` must point to 64 readable bytes (ENCODEKEY forms
// ignore it); the probe copies it to where its addressing form looks.
// RIP-relative forms use one static buffer: do not run them concurrently.
typedef void (*klfs_probe_function)(klfs_probe_state *state, const uint8_t *handle);

typedef struct klfs_probe_form {
    const char *name;               // e.g. "aesenc256kl sib_scale_4"
    klfs_probe_function run;
    uint32_t instruction;           // klfs_probe_instruction
    uint32_t xmm_destination;       // AES*KL (not wide): the register it transforms
} klfs_probe_form;

size_t klfs_probe_form_count(void);
const klfs_probe_form *klfs_probe_form_at(size_t index);

// Defined by CKLKernels' emulator_machine.c for tests only: the IWKey (a
// klfs_iwkey) of the calling thread's emulated machine, so ENCODEKEY can be
// compared with klfs_softkl_encode_key.
const void *klfs_emulator_iwkey_for_testing(void);

#endif
