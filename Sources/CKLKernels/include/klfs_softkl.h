#ifndef KLFS_SOFTKL_H
#define KLFS_SOFTKL_H

#include "klfs_aesni_xts.h"

// The software Key Locker: the same handle format and semantics as the
// hardware, with the wrapping key (IWKey) in process memory that the caller
// places in secret memory. docs/KEYLOCKER-SOFT.md specifies the wrap.
//
// Every klfs_softkl_ call runs on the thread's secret stack
// (klfs_run_on_secret_stack): the raw keys it unwraps and the round keys
// it expands from them exist only there, and only during the call. Each
// returns KLFS_ENOMEM when that stack cannot be had.

// IWKey: 128-bit integrity key and 256-bit encryption key, as in the SDM,
// the encryption key's AES schedule, expanded once when the key is loaded
// rather than at every wrap and unwrap, and the metadata the SDM keeps
// with the two keys: LOADIWKEY's EAX, which ENCODEKEY reports back.
typedef struct klfs_iwkey {
    uint8_t integrity_key[16];
    uint8_t encryption_key[32];
    klfs_aes_key encryption_schedule;
    uint32_t attributes; // KLFS_IWKEY_NO_BACKUP | KeySource << KLFS_IWKEY_KEY_SOURCE_SHIFT
} klfs_iwkey;

// IWKey metadata: LOADIWKEY's EAX and ENCODEKEY's r32 result share the
// layout (bit 0 NoBackup, bits 4:1 KeySource, every other bit zero).
enum {
    // The IWKey may not be copied to platform-scoped storage (the backup
    // MSRs refuse it), so it cannot outlive S3/S4.
    KLFS_IWKEY_NO_BACKUP = 1u << 0,
    KLFS_IWKEY_KEY_SOURCE_SHIFT = 1,
    KLFS_IWKEY_KEY_SOURCE_MASK = 0xFu << KLFS_IWKEY_KEY_SOURCE_SHIFT,
    // KeySource 0: the key software put in LOADIWKEY's operands.
    KLFS_IWKEY_KEY_SOURCE_SOFTWARE = 0,
    // KeySource 1: the operands mixed with the CPU's hardware random source.
    KLFS_IWKEY_KEY_SOURCE_RANDOM = 1,
};

#define KLFS_HANDLE128_SIZE 48 // AAD 16, tag 16, ciphertext 16
#define KLFS_HANDLE256_SIZE 64 // AAD 16, tag 16, ciphertext 32

// Handle restriction bits (ENCODEKEY source operand, AAD bits 2:0).
enum {
    KLFS_KL_RESTRICT_CPL0_ONLY = 1u << 0,
    KLFS_KL_RESTRICT_NO_ENCRYPT = 1u << 1,
    KLFS_KL_RESTRICT_NO_DECRYPT = 1u << 2,
};

// Key type, AAD bits 27:24.
enum {
    KLFS_KL_KEYTYPE_AES128 = 0,
    KLFS_KL_KEYTYPE_AES256 = 1,
};

// Fills an IWKey's two keys from getrandom, then klfs_iwkey_expand. Returns
// 0, or -errno with the IWKey wiped.
int klfs_iwkey_generate(klfs_iwkey *iwkey, uint32_t attributes);

// The last step of loading an IWKey whose two keys are in place: expands
// the encryption key's schedule and records `attributes`.
void klfs_iwkey_expand(klfs_iwkey *iwkey, uint32_t attributes);

// ENCODEKEY128/256. `key_bits` is 128 or 256; `restrictions` must fit in
// bits 2:0 (else KLFS_EINVAL, where the hardware raises #GP). Writes a
// KLFS_HANDLE128_SIZE or KLFS_HANDLE256_SIZE handle. Deterministic.
int klfs_softkl_encode_key(const klfs_iwkey *iwkey, uint32_t restrictions,
                           const uint8_t *key, unsigned key_bits, uint8_t *handle);

// What an AES*KL instruction does before it touches data: checks the handle
// format (key type matches key_bits, reserved AAD bits zero), restrictions
// for every use asked for (CPL0-only is always refused: we run at CPL3;
// no-encrypt when `encrypt_schedule` is given, no-decrypt when
// `decrypt_schedule` is given) and the tag. On success expands the key,
// unwrapped once, into each schedule given (either may be NULL), wipes the
// raw key and returns KLFS_OK. Otherwise zeroes the schedules given and
// returns KLFS_EHANDLE. The caller wipes the schedules.
int klfs_softkl_load_key(const klfs_iwkey *iwkey, const uint8_t *handle,
                         unsigned key_bits, klfs_aes_key *encrypt_schedule,
                         klfs_aes_key *decrypt_schedule);

// XTS (klfs_xts_crypt's contract) with the key behind two 256-bit handles:
// the data handle, checked for `direction`, and the tweak handle, checked
// for encryption (XTS only ever encrypts the tweak). Each handle is
// unwrapped once for the call and its round keys die before it returns.
// The blocks run through `kernel` (klfs_aesni_xts_crypt).
// KLFS_OK; KLFS_EHANDLE with `out` zeroed; KLFS_ENOMEM; KLFS_EUNSUPPORTED
// (a kernel this CPU cannot run); or KLFS_EINVAL.
int klfs_softkl_xts_crypt(const klfs_iwkey *iwkey, const uint8_t data_handle[64],
                          const uint8_t tweak_handle[64], klfs_direction direction,
                          const uint8_t *in, uint8_t *out, size_t unit_size, size_t units,
                          const uint8_t first_unit[16], uint64_t unit_step, klfs_xts_kernel kernel);

// The wrap primitive: RFC 8452 AES-256-GCM-SIV from the record keys on
// (the caller supplies the message-authentication key, the POLYVAL key, and
// the AES-256 message-encryption key; no per-nonce derivation). Seal writes
// `size` ciphertext bytes and the 16-byte tag. Open returns KLFS_OK, or
// KLFS_EHANDLE with `plaintext` zeroed when the tag does not verify (the
// comparison takes the same time wherever the tags differ). in == out is
// allowed.
void klfs_gcm_siv_seal(const uint8_t auth_key[16], const uint8_t enc_key[32],
                       const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                       const uint8_t *plaintext, size_t size, uint8_t *ciphertext,
                       uint8_t tag[16]);
int klfs_gcm_siv_open(const uint8_t auth_key[16], const uint8_t enc_key[32],
                      const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                      const uint8_t *ciphertext, size_t size, const uint8_t tag[16],
                      uint8_t *plaintext);

// The same, with the AES-256 message-encryption key already expanded.
void klfs_gcm_siv_seal_with_schedule(const uint8_t auth_key[16], const klfs_aes_key *schedule,
                                     const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                                     const uint8_t *plaintext, size_t size, uint8_t *ciphertext,
                                     uint8_t tag[16]);
int klfs_gcm_siv_open_with_schedule(const uint8_t auth_key[16], const klfs_aes_key *schedule,
                                    const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                                    const uint8_t *ciphertext, size_t size, const uint8_t tag[16],
                                    uint8_t *plaintext);

#endif
