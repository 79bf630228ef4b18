// CPU feature detection from CPUID leaves 0, 1, 7 and 0x19 and XGETBV.
#include "klfs_cpu.h"

#include <cpuid.h>
#include <string.h>

typedef struct cpuid_leaf {
    uint32_t eax, ebx, ecx, edx;
} cpuid_leaf;

static cpuid_leaf read_leaf(uint32_t leaf, uint32_t subleaf) {
    cpuid_leaf r;
    __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
    return r;
}

static bool bit(uint32_t value, unsigned index) { return (value >> index) & 1u; }

// XCR0: the state components the OS saves and restores across context
// switches. Without OSXSAVE there is no XGETBV and no AVX state at all.
static uint32_t read_xcr0(bool osxsave) {
    if (!osxsave) return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return lo;
}

// XCR0 bits 1-2 (SSE, AVX): the upper halves of the ymm registers survive.
static bool saves_ymm(uint32_t xcr0) {
    const uint32_t needed = (1u << 1) | (1u << 2);
    return (xcr0 & needed) == needed;
}

// And bits 5-7 (opmask, ZMM_Hi256, Hi16_ZMM): the full AVX-512 state.
static bool saves_zmm(uint32_t xcr0) {
    const uint32_t needed = (1u << 5) | (1u << 6) | (1u << 7);
    return saves_ymm(xcr0) && (xcr0 & needed) == needed;
}

static void read_brand(klfs_cpu_features *f) {
    cpuid_leaf ext = read_leaf(0x80000000u, 0);
    if (ext.eax < 0x80000004u) return;
    uint32_t words[12];
    for (uint32_t i = 0; i < 3; i++) {
        cpuid_leaf r = read_leaf(0x80000002u + i, 0);
        words[i * 4 + 0] = r.eax;
        words[i * 4 + 1] = r.ebx;
        words[i * 4 + 2] = r.ecx;
        words[i * 4 + 3] = r.edx;
    }
    memcpy(f->brand, words, 48);
    f->brand[48] = 0;
}

void klfs_cpu_detect(klfs_cpu_features *f) {
    memset(f, 0, sizeof *f);
    cpuid_leaf l0 = read_leaf(0, 0);
    f->max_basic_leaf = l0.eax;
    memcpy(f->vendor + 0, &l0.ebx, 4);
    memcpy(f->vendor + 4, &l0.edx, 4);
    memcpy(f->vendor + 8, &l0.ecx, 4);
    read_brand(f);

    cpuid_leaf l1 = read_leaf(1, 0);
    f->aesni = bit(l1.ecx, 25);
    f->pclmulqdq = bit(l1.ecx, 1);
    const uint32_t xcr0 = read_xcr0(bit(l1.ecx, 27));
    f->os_saves_ymm = saves_ymm(xcr0);
    f->os_saves_zmm = saves_zmm(xcr0);

    if (f->max_basic_leaf >= 7) {
        cpuid_leaf l7 = read_leaf(7, 0);
        f->avx2 = bit(l7.ebx, 5);
        f->avx512f = bit(l7.ebx, 16);
        f->avx512bw = bit(l7.ebx, 30);
        f->avx512vl = bit(l7.ebx, 31);
        f->vaes = bit(l7.ecx, 9);
        f->vpclmulqdq = bit(l7.ecx, 10);
        f->keylocker = bit(l7.ecx, 23);
    }
    if (f->keylocker && f->max_basic_leaf >= 0x19) {
        cpuid_leaf l19 = read_leaf(0x19, 0);
        f->restrict_cpl0 = bit(l19.eax, 0);
        f->restrict_no_encrypt = bit(l19.eax, 1);
        f->restrict_no_decrypt = bit(l19.eax, 2);
        f->aeskle = bit(l19.ebx, 0);
        f->wide_kl = bit(l19.ebx, 2);
        f->iwkey_backup = bit(l19.ebx, 4);
        f->iwkey_nobackup = bit(l19.ecx, 0);
        f->iwkey_random = bit(l19.ecx, 1);
    }
}

bool klfs_cpu_has_vaes256(const klfs_cpu_features *f) {
    return f->vaes && f->vpclmulqdq && f->avx2 && f->os_saves_ymm;
}

bool klfs_cpu_has_vaes512(const klfs_cpu_features *f) {
    return f->vaes && f->vpclmulqdq && f->avx512f && f->avx512bw && f->avx512vl &&
           f->os_saves_zmm;
}
