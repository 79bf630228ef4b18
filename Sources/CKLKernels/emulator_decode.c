// Decodes the Key Locker instructions from their bytes: F3, an optional REX,
// 0F 38, the opcode, ModRM and the memory operand in every 64-bit form
// (SIB, disp8, disp32, RIP-relative). Prefixes other than F3 and REX, and
// the 32-bit address-size form, are refused: the emulator then leaves the
// #UD to whoever handled SIGILL before it.
#include "emulator_decode.h"

#include <string.h>

enum {
    PREFIX_REP = 0xF3,
    REX_B = 1u << 0,
    REX_X = 1u << 1,
    REX_R = 1u << 2,
    MOD_REGISTER = 3,
    RM_SIB = 4,
    RM_RIP_RELATIVE = 5, // with mod 00
    SIB_NO_INDEX = 4,    // without REX.X
    SIB_NO_BASE = 5,     // with mod 00
};

// A cursor over the instruction's bytes.
typedef struct code_reader {
    const uint8_t *code;
    unsigned length;
} code_reader;

static uint8_t next_byte(code_reader *reader) { return reader->code[reader->length++]; }

static int64_t next_disp32(code_reader *reader) {
    int32_t disp;
    memcpy(&disp, reader->code + reader->length, sizeof disp);
    reader->length += sizeof disp;
    return disp;
}

static int64_t next_displacement(code_reader *reader, unsigned mod) {
    if (mod == 1) return (int8_t)next_byte(reader);
    if (mod == 2) return next_disp32(reader);
    return 0;
}

// Base + index * scale + displacement of a ModRM memory operand (mod != 11).
// RIP-relative addresses count from the end of the instruction, which is
// known once the displacement is read (these instructions take no immediate).
static uint64_t effective_address(code_reader *reader, unsigned mod, unsigned rm_low,
                                  unsigned rex, uint64_t rip, const uint64_t gpr[16]) {
    if (mod == 0 && rm_low == RM_RIP_RELATIVE) {
        int64_t disp = next_disp32(reader);
        return rip + reader->length + (uint64_t)disp;
    }
    if (rm_low != RM_SIB) {
        uint64_t base = gpr[rm_low | (rex & REX_B ? 8 : 0)];
        return base + (uint64_t)next_displacement(reader, mod);
    }
    uint8_t sib = next_byte(reader);
    unsigned scale = sib >> 6;
    unsigned index = ((sib >> 3) & 7) | (rex & REX_X ? 8 : 0);
    unsigned base_low = sib & 7;
    uint64_t address = index == SIB_NO_INDEX ? 0 : gpr[index] << scale;
    if (mod == 0 && base_low == SIB_NO_BASE) return address + (uint64_t)next_disp32(reader);
    address += gpr[base_low | (rex & REX_B ? 8 : 0)];
    return address + (uint64_t)next_displacement(reader, mod);
}

// The opcode behind F3 0F 38 `byte` with this ModRM, or KLFS_KL_OPCODE_COUNT
// when it is none of ours (LOADIWKEY, DC with mod 11, is ring 0 only).
static klfs_kl_opcode classify(uint8_t byte, uint8_t modrm) {
    bool register_form = (modrm >> 6) == MOD_REGISTER;
    unsigned digit = (modrm >> 3) & 7; // D8 /0../3, REX.R does not extend it
    switch (byte) {
    case 0xFA: return register_form ? KLFS_KL_ENCODEKEY128 : KLFS_KL_OPCODE_COUNT;
    case 0xFB: return register_form ? KLFS_KL_ENCODEKEY256 : KLFS_KL_OPCODE_COUNT;
    case 0xDC: return register_form ? KLFS_KL_OPCODE_COUNT : KLFS_KL_AESENC128KL;
    case 0xDD: return register_form ? KLFS_KL_OPCODE_COUNT : KLFS_KL_AESDEC128KL;
    case 0xDE: return register_form ? KLFS_KL_OPCODE_COUNT : KLFS_KL_AESENC256KL;
    case 0xDF: return register_form ? KLFS_KL_OPCODE_COUNT : KLFS_KL_AESDEC256KL;
    case 0xD8:
        if (register_form || digit > 3) return KLFS_KL_OPCODE_COUNT;
        return (klfs_kl_opcode)(KLFS_KL_AESENCWIDE128KL + digit);
    default: return KLFS_KL_OPCODE_COUNT;
    }
}

static bool is_known_opcode_byte(uint8_t byte) {
    return byte == 0xFA || byte == 0xFB || byte == 0xD8 || (byte >= 0xDC && byte <= 0xDF);
}

bool klfs_kl_decode(const uint8_t *code, uint64_t rip, const uint64_t gpr[16],
                    klfs_kl_instruction *instruction) {
    code_reader reader = {code, 0};
    if (next_byte(&reader) != PREFIX_REP) return false;
    unsigned rex = 0;
    if ((code[reader.length] & 0xF0) == 0x40) rex = next_byte(&reader);
    if (next_byte(&reader) != 0x0F || next_byte(&reader) != 0x38) return false;
    uint8_t opcode_byte = next_byte(&reader);
    if (!is_known_opcode_byte(opcode_byte)) return false;
    uint8_t modrm = next_byte(&reader);
    klfs_kl_opcode opcode = classify(opcode_byte, modrm);
    if (opcode == KLFS_KL_OPCODE_COUNT) return false;

    unsigned mod = modrm >> 6, rm_low = modrm & 7;
    instruction->opcode = opcode;
    instruction->reg = ((modrm >> 3) & 7) | (rex & REX_R ? 8 : 0);
    instruction->rm = rm_low | (rex & REX_B ? 8 : 0);
    instruction->address = mod == MOD_REGISTER
                               ? 0
                               : effective_address(&reader, mod, rm_low, rex, rip, gpr);
    instruction->length = reader.length;
    return true;
}

