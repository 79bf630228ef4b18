// The software Key Locker: ENCODEKEY and the handle checks of the AES*KL
// instructions, with the wrap of docs/KEYLOCKER-SOFT.md.
#include "klfs_softkl.h"
#include "klfs_aesni_xts.h"
#include "klfs_secret.h"

#include <string.h>

// A block cipher scope keeps an encryption and a decryption schedule there.
_Static_assert(2 * sizeof(klfs_aes_key) <= KLFS_SECRET_SLOT_SIZE, "the scope slot holds two schedules");

enum {
    HANDLE_AAD_OFFSET = 0,
    HANDLE_TAG_OFFSET = 16,
    HANDLE_CIPHERTEXT_OFFSET = 32,
    AAD_SIZE = 16,
    RESTRICTION_BITS = 0x7,
    KEY_TYPE_SHIFT = 24,
    KEY_TYPE_BITS = 0xF,
};

// The wrap is deterministic (ENCODEKEY is a pure function of IWKey, key and
// restrictions), so the GCM-SIV nonce is fixed at zero.
static const uint8_t wrap_nonce[12];

static bool key_type_of(unsigned key_bits, uint32_t *key_type) {
    if (key_bits == 128) *key_type = KLFS_KL_KEYTYPE_AES128;
    else if (key_bits == 256) *key_type = KLFS_KL_KEYTYPE_AES256;
    else return false;
    return true;
}

// KeyMetadata as a 128-bit little-endian value: restrictions in bits 2:0,
// key type in bits 27:24, every other bit zero.
static void build_aad(uint32_t restrictions, uint32_t key_type, uint8_t aad[AAD_SIZE]) {
    memset(aad, 0, AAD_SIZE);
    uint32_t metadata = restrictions | key_type << KEY_TYPE_SHIFT;
    for (unsigned i = 0; i < 4; i++) aad[i] = (uint8_t)(metadata >> (8 * i));
}

int klfs_iwkey_generate(klfs_iwkey *iwkey, uint32_t attributes) {
    int status = klfs_random_bytes(iwkey->integrity_key, sizeof iwkey->integrity_key);
    if (status == 0)
        status = klfs_random_bytes(iwkey->encryption_key, sizeof iwkey->encryption_key);
    if (status == 0)
        klfs_iwkey_expand(iwkey, attributes);
    else
        klfs_wipe(iwkey, sizeof *iwkey);
    return status;
}

void klfs_iwkey_expand(klfs_iwkey *iwkey, uint32_t attributes) {
    klfs_aes_expand_key(iwkey->encryption_key, 256, &iwkey->encryption_schedule, NULL);
    iwkey->attributes = attributes;
}

static int encode_key(const klfs_iwkey *iwkey, uint32_t restrictions, const uint8_t *key,
                      unsigned key_bits, uint8_t *handle) {
    uint32_t key_type;
    if (restrictions > RESTRICTION_BITS || !key_type_of(key_bits, &key_type))
        return KLFS_EINVAL;
    build_aad(restrictions, key_type, handle + HANDLE_AAD_OFFSET);
    klfs_gcm_siv_seal_with_schedule(iwkey->integrity_key, &iwkey->encryption_schedule, wrap_nonce,
                                    handle + HANDLE_AAD_OFFSET, AAD_SIZE, key, key_bits / 8,
                                    handle + HANDLE_CIPHERTEXT_OFFSET, handle + HANDLE_TAG_OFFSET);
    return KLFS_OK;
}

// The IllegalHandle test of the SDM's AES*KL pseudocode, before any
// cryptography: key type, reserved bits, then the restrictions for `use`.
static bool handle_is_legal(const uint8_t aad[AAD_SIZE], unsigned key_bits,
                            klfs_direction use) {
    uint32_t expected_type;
    if (!key_type_of(key_bits, &expected_type)) return false;
    uint32_t metadata = 0;
    for (unsigned i = 0; i < 4; i++) metadata |= (uint32_t)aad[i] << (8 * i);
    uint8_t upper = 0;
    for (unsigned i = 4; i < AAD_SIZE; i++) upper |= aad[i];

    uint32_t key_type = (metadata >> KEY_TYPE_SHIFT) & KEY_TYPE_BITS;
    uint32_t reserved = metadata & ~(RESTRICTION_BITS | KEY_TYPE_BITS << KEY_TYPE_SHIFT);
    if (key_type != expected_type || reserved != 0 || upper != 0) return false;
    // We run at CPL3, so a CPL0-only handle is always refused.
    if (metadata & KLFS_KL_RESTRICT_CPL0_ONLY) return false;
    uint32_t forbidding = use == KLFS_ENCRYPT ? KLFS_KL_RESTRICT_NO_ENCRYPT
                                              : KLFS_KL_RESTRICT_NO_DECRYPT;
    return (metadata & forbidding) == 0;
}

// A schedule asked for is a use the handle must allow.
static bool handle_allows(const uint8_t aad[AAD_SIZE], unsigned key_bits,
                          const klfs_aes_key *encrypt_schedule,
                          const klfs_aes_key *decrypt_schedule) {
    if (encrypt_schedule != NULL && !handle_is_legal(aad, key_bits, KLFS_ENCRYPT)) return false;
    if (decrypt_schedule != NULL && !handle_is_legal(aad, key_bits, KLFS_DECRYPT)) return false;
    return true;
}

static void zero_schedule(klfs_aes_key *schedule) {
    if (schedule != NULL) klfs_wipe(schedule, sizeof *schedule);
}

static int load_key(const klfs_iwkey *iwkey, const uint8_t *handle, unsigned key_bits,
                    klfs_aes_key *encrypt_schedule, klfs_aes_key *decrypt_schedule) {
    uint8_t raw_key[32];
    int status = KLFS_EHANDLE;
    if (handle_allows(handle + HANDLE_AAD_OFFSET, key_bits, encrypt_schedule, decrypt_schedule))
        status = klfs_gcm_siv_open_with_schedule(iwkey->integrity_key, &iwkey->encryption_schedule,
                                                 wrap_nonce, handle + HANDLE_AAD_OFFSET, AAD_SIZE,
                                                 handle + HANDLE_CIPHERTEXT_OFFSET, key_bits / 8,
                                                 handle + HANDLE_TAG_OFFSET, raw_key);
    if (status == KLFS_OK) {
        klfs_aes_expand_key(raw_key, key_bits, encrypt_schedule, decrypt_schedule);
    } else {
        zero_schedule(encrypt_schedule);
        zero_schedule(decrypt_schedule);
    }
    klfs_wipe(raw_key, sizeof raw_key); // the unwrapped key dies here
    return status;
}

static int load_xts_key(const klfs_iwkey *iwkey, const uint8_t data_handle[64],
                        const uint8_t tweak_handle[64], bool encrypt, bool decrypt,
                        klfs_aesni_xts_key *keys) {
    // Zeroed so a schedule no direction needs holds no garbage.
    klfs_wipe(keys, sizeof *keys);
    int status = load_key(iwkey, data_handle, 256, encrypt ? &keys->data_encrypt : NULL,
                          decrypt ? &keys->data_decrypt : NULL);
    // XTS only ever encrypts the tweak, in both directions.
    if (status == KLFS_OK) status = load_key(iwkey, tweak_handle, 256, &keys->tweak_encrypt, NULL);
    if (status != KLFS_OK) klfs_wipe(keys, sizeof *keys);
    return status;
}

// ---- Entry points: each runs on the thread's secret stack ------------------
//
// Every local above (the raw key, the wrap's round keys and keystream, the
// XTS schedules) therefore lives in secret memory, and dies with the wipe of
// that stack when the call returns.

typedef struct encode_key_call {
    const klfs_iwkey *iwkey;
    uint32_t restrictions;
    const uint8_t *key;
    unsigned key_bits;
    uint8_t *handle;
} encode_key_call;

static int encode_key_on_secret_stack(void *argument) {
    const encode_key_call *call = argument;
    return encode_key(call->iwkey, call->restrictions, call->key, call->key_bits, call->handle);
}

int klfs_softkl_encode_key(const klfs_iwkey *iwkey, uint32_t restrictions,
                           const uint8_t *key, unsigned key_bits, uint8_t *handle) {
    encode_key_call call = {iwkey, restrictions, key, key_bits, handle};
    return klfs_run_on_secret_stack(encode_key_on_secret_stack, &call);
}

typedef struct load_key_call {
    const klfs_iwkey *iwkey;
    const uint8_t *handle;
    unsigned key_bits;
    klfs_aes_key *encrypt_schedule;
    klfs_aes_key *decrypt_schedule;
} load_key_call;

static int load_key_on_secret_stack(void *argument) {
    const load_key_call *call = argument;
    return load_key(call->iwkey, call->handle, call->key_bits, call->encrypt_schedule,
                    call->decrypt_schedule);
}

int klfs_softkl_load_key(const klfs_iwkey *iwkey, const uint8_t *handle,
                         unsigned key_bits, klfs_aes_key *encrypt_schedule,
                         klfs_aes_key *decrypt_schedule) {
    load_key_call call = {iwkey, handle, key_bits, encrypt_schedule, decrypt_schedule};
    return klfs_run_on_secret_stack(load_key_on_secret_stack, &call);
}

typedef struct xts_call {
    const klfs_iwkey *iwkey;
    const uint8_t *data_handle;
    const uint8_t *tweak_handle;
    klfs_direction direction;
    const uint8_t *in;
    uint8_t *out;
    size_t unit_size;
    size_t units;
    const uint8_t *first_unit;
    uint64_t unit_step;
    klfs_xts_kernel kernel;
} xts_call;

static int xts_crypt_on_secret_stack(void *argument) {
    const xts_call *call = argument;
    klfs_aesni_xts_key keys;
    int status = load_xts_key(call->iwkey, call->data_handle, call->tweak_handle,
                              call->direction == KLFS_ENCRYPT, call->direction == KLFS_DECRYPT, &keys);
    if (status == KLFS_OK)
        status = klfs_aesni_xts_crypt(&keys, call->kernel, call->direction, call->in, call->out,
                                      call->unit_size, call->units, call->first_unit, call->unit_step);
    klfs_wipe(&keys, sizeof keys); // the unwrapped keys' round keys die here
    return status;
}

int klfs_softkl_xts_crypt(const klfs_iwkey *iwkey, const uint8_t data_handle[64],
                          const uint8_t tweak_handle[64], klfs_direction direction,
                          const uint8_t *in, uint8_t *out, size_t unit_size, size_t units,
                          const uint8_t first_unit[16], uint64_t unit_step, klfs_xts_kernel kernel) {
    xts_call call = {iwkey, data_handle, tweak_handle, direction, in, out, unit_size, units,
                     first_unit, unit_step, kernel};
    int status = klfs_run_on_secret_stack(xts_crypt_on_secret_stack, &call);
    // A refused handle leaves no output behind.
    if (status == KLFS_EHANDLE) memset(out, 0, unit_size * units);
    return status;
}
