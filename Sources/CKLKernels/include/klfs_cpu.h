#ifndef KLFS_CPU_H
#define KLFS_CPU_H

#include "klfs_common.h"

// What CPUID (leaves 1, 7 and 0x19) and XGETBV report. Read with the real
// CPUID instruction, so CPUID faulting (the emulator) answers it too.
typedef struct klfs_cpu_features {
    bool aesni;              // CPUID.1:ECX[25]
    bool pclmulqdq;          // CPUID.1:ECX[1]
    bool avx2;               // CPUID.7.0:EBX[5]
    bool avx512f;            // CPUID.7.0:EBX[16]
    bool avx512bw;           // CPUID.7.0:EBX[30]
    bool avx512vl;           // CPUID.7.0:EBX[31]
    bool vaes;               // CPUID.7.0:ECX[9]
    bool vpclmulqdq;         // CPUID.7.0:ECX[10]
    bool os_saves_ymm;       // XCR0 has SSE and AVX state
    bool os_saves_zmm;       // XCR0 has opmask, ZMM_Hi256 and Hi16_ZMM state
    bool keylocker;          // CPUID.7.0:ECX[23]
    bool aeskle;             // CPUID.19H:EBX[0], set once the OS sets CR4.KL
    bool wide_kl;            // CPUID.19H:EBX[2]
    bool iwkey_backup;       // CPUID.19H:EBX[4]
    bool restrict_cpl0;      // CPUID.19H:EAX[0]
    bool restrict_no_encrypt;// CPUID.19H:EAX[1]
    bool restrict_no_decrypt;// CPUID.19H:EAX[2]
    bool iwkey_nobackup;     // CPUID.19H:ECX[0]
    bool iwkey_random;       // CPUID.19H:ECX[1], KeySource 1
    uint32_t max_basic_leaf; // CPUID.0:EAX
    char vendor[13];
    char brand[49];
} klfs_cpu_features;

void klfs_cpu_detect(klfs_cpu_features *features);

// True when the VAES-256 XTS kernel can run (VAES, VPCLMULQDQ, AVX2 and the
// OS saving YMM state): Alder Lake, Raptor Lake, Zen 3 and later.
bool klfs_cpu_has_vaes256(const klfs_cpu_features *features);

// True when the VAES-512 XTS kernel can run (VAES, VPCLMULQDQ, AVX-512 F/BW/VL
// and the OS saving ZMM state).
bool klfs_cpu_has_vaes512(const klfs_cpu_features *features);

#endif
