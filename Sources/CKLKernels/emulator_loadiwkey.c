// LOADIWKEY on an emulated machine, after the SDM's pseudocode: the
// operands (or KeySource 1's mix of them with hardware randomness) become
// the IWKey with its NoBackup and KeySource metadata, after the
// configured number of cycles.
#include "emulator_machine.h"

#include <string.h>
#include <x86intrin.h>

enum {
    LOADIWKEY_DEFINED_BITS = KLFS_IWKEY_NO_BACKUP | KLFS_IWKEY_KEY_SOURCE_MASK,
    INTEGRITY_KEY_SIZE = 16,
    ENCRYPTION_KEY_SIZE = 32,
    OPERANDS_SIZE = INTEGRITY_KEY_SIZE + ENCRYPTION_KEY_SIZE,
};

static unsigned key_source_of(uint32_t attributes) {
    return (attributes & KLFS_IWKEY_KEY_SOURCE_MASK) >> KLFS_IWKEY_KEY_SOURCE_SHIFT;
}

void klfs_emulator_loadiwkey_cost(const klfs_emulated_machine *machine, klfs_loadiwkey_cost *cost) {
    cost->software_key_cycles = atomic_load(&machine->software_key_cycles);
    cost->random_key_cycles = atomic_load(&machine->random_key_cycles);
}

void klfs_emulator_set_loadiwkey_cost(klfs_emulated_machine *machine, const klfs_loadiwkey_cost *cost) {
    atomic_store(&machine->software_key_cycles, cost->software_key_cycles);
    atomic_store(&machine->random_key_cycles, cost->random_key_cycles);
}

// The instruction's latency: spin on the TSC, which counts at a constant
// rate whatever the core's clock, until `cycles` ticks have passed.
static void burn_cycles(uint64_t cycles) {
    uint64_t start = __rdtsc();
    while (__rdtsc() - start < cycles) _mm_pause();
}

// XMM0 -> integrity key, xmm1:xmm2 -> encryption key; a kernel without
// a key of its own in mind fills them from getrandom.
static int take_operands(klfs_iwkey *next, const uint8_t *operands) {
    if (operands == NULL) {
        int status = klfs_random_bytes(next->integrity_key, INTEGRITY_KEY_SIZE);
        if (status == 0) status = klfs_random_bytes(next->encryption_key, ENCRYPTION_KEY_SIZE);
        return status;
    }
    memcpy(next->integrity_key, operands, INTEGRITY_KEY_SIZE);
    memcpy(next->encryption_key, operands + INTEGRITY_KEY_SIZE, ENCRYPTION_KEY_SIZE);
    return KLFS_OK;
}

// KeySource 1: full-entropy bits from the hardware random source XORed into
// the operands; getrandom stands in for the source, and its failure for
// the CPU's (ZF=1, no IWKey loaded).
static int mix_hardware_random(klfs_iwkey *next) {
    uint8_t noise[OPERANDS_SIZE];
    int status = klfs_random_bytes(noise, sizeof noise);
    for (unsigned i = 0; status == 0 && i < INTEGRITY_KEY_SIZE; i++)
        next->integrity_key[i] ^= noise[i];
    for (unsigned i = 0; status == 0 && i < ENCRYPTION_KEY_SIZE; i++)
        next->encryption_key[i] ^= noise[INTEGRITY_KEY_SIZE + i];
    klfs_wipe(noise, sizeof noise); // the noise dies here, living on only inside the IWKey
    return status;
}

typedef struct loadiwkey_call {
    const klfs_emulated_machine *machine;
    uint32_t attributes;
    const uint8_t *operands;
} loadiwkey_call;

// A klfs_iwkey_maker, run on the secret stack by the store's replace.
static int load_into(klfs_iwkey *next, void *context) {
    const loadiwkey_call *call = context;
    bool random = key_source_of(call->attributes) == KLFS_IWKEY_KEY_SOURCE_RANDOM;
    int status = take_operands(next, call->operands);
    if (status == KLFS_OK && random) status = mix_hardware_random(next);
    if (status != KLFS_OK) return status;
    klfs_iwkey_expand(next, call->attributes);
    klfs_loadiwkey_cost cost;
    klfs_emulator_loadiwkey_cost(call->machine, &cost);
    burn_cycles(random ? cost.random_key_cycles : cost.software_key_cycles);
    return KLFS_OK;
}

int klfs_emulator_load_iwkey(klfs_emulated_machine *machine, uint32_t attributes,
                             const uint8_t operands[48], uint64_t *cycles) {
    // #GP: reserved EAX bits, or a KeySource other than 0 and 1. Both
    // NoBackup and KeySource 1 are supported (CPUID.19H:ECX[1:0]).
    if ((attributes & ~(uint32_t)LOADIWKEY_DEFINED_BITS) != 0 ||
        key_source_of(attributes) > KLFS_IWKEY_KEY_SOURCE_RANDOM)
        return KLFS_EINVAL;
    uint64_t start = __rdtsc();
    loadiwkey_call call = {machine, attributes, operands};
    int status = klfs_iwkey_store_replace(machine->iwkeys, load_into, &call);
    if (cycles != NULL) *cycles = __rdtsc() - start;
    return status;
}
