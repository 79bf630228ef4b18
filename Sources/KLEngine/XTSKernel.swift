import CKLKernels

/// The whole-block XTS kernel under the aesni and keylocker-soft engines
/// (aesni_xts.c). All produce the same ciphertext; they differ in the
/// registers they need and in speed. The keylocker engine runs its own
/// kernel (keylocker_x86_64.S, ``XTSKernel/keyLockerKernelName``) and takes
/// no other.
public enum XTSKernel: String, CaseIterable, Sendable, Codable {
    /// The fastest kernel this CPU runs: vaes-512, else vaes-256, else aesni-xmm.
    case auto
    /// AES-NI, 8 blocks per step in xmm registers: every AES-NI CPU.
    case aesniXMM = "aesni-xmm"
    /// VAES + VPCLMULQDQ + AVX2, 16 blocks per step in ymm registers: Alder
    /// Lake and Raptor Lake (the Key Locker CPUs, no AVX-512), Zen 3.
    case vaes256 = "vaes-256"
    /// VAES + VPCLMULQDQ + AVX-512, two 8-block steps in flight in zmm
    /// registers: Xeons since Ice Lake, Zen 4.
    case vaes512 = "vaes-512"

    /// The kernels `auto` chooses among, slowest first.
    public static let concrete: [XTSKernel] = [.aesniXMM, .vaes256, .vaes512]

    /// What the keylocker engine reports as its kernel: one AESENCWIDE256KL
    /// or AESDECWIDE256KL per 8 blocks, through the handles.
    public static let keyLockerKernelName = "keylocker-wide"

    var kernelValue: klfs_xts_kernel {
        switch self {
        case .auto: return KLFS_XTS_KERNEL_AUTO
        case .aesniXMM: return KLFS_XTS_KERNEL_AESNI_XMM
        case .vaes256: return KLFS_XTS_KERNEL_VAES256
        case .vaes512: return KLFS_XTS_KERNEL_VAES512
        }
    }

    init?(kernelValue: klfs_xts_kernel) {
        guard let kernel = Self.allCases.first(where: { $0.kernelValue == kernelValue }) else { return nil }
        self = kernel
    }
}

extension CPUFeatures {
    /// Whether this CPU, with the register state the OS saves, runs
    /// `kernel` (`auto`: whether it runs any). The same test the C dispatch
    /// makes before every call.
    public func runs(_ kernel: XTSKernel) -> Bool {
        withUnsafePointer(to: raw) { klfs_xts_kernel_runs_on(kernel.kernelValue, $0) }
    }

    /// The concrete kernels this CPU runs, slowest first.
    public var xtsKernels: [XTSKernel] { XTSKernel.concrete.filter(runs) }

    /// What `kernel` needs that this CPU lacks, by the names CPUID
    /// documentation uses; empty when it runs.
    public func missingFeatures(for kernel: XTSKernel) -> [String] {
        let raw = self.raw
        var needs = [("AES-NI", raw.aesni)]
        switch kernel {
        case .auto, .aesniXMM:
            break
        case .vaes256:
            needs += [("VAES", raw.vaes), ("VPCLMULQDQ", raw.vpclmulqdq), ("AVX2", raw.avx2),
                      ("YMM state enabled by the OS", raw.os_saves_ymm)]
        case .vaes512:
            needs += [("VAES", raw.vaes), ("VPCLMULQDQ", raw.vpclmulqdq), ("AVX-512F", raw.avx512f),
                      ("AVX-512BW", raw.avx512bw), ("AVX-512VL", raw.avx512vl),
                      ("ZMM state enabled by the OS", raw.os_saves_zmm)]
        }
        return needs.filter { !$0.1 }.map(\.0)
    }

    /// The concrete kernel that `kernel` means on this CPU: auto's pick, or
    /// `kernel` itself when the CPU runs it.
    public func resolve(_ kernel: XTSKernel) throws(EngineError) -> XTSKernel {
        let resolved = kernel == .auto
            ? withUnsafePointer(to: raw) { XTSKernel(kernelValue: klfs_xts_kernel_best_for($0)) ?? .auto }
            : kernel
        guard resolved != .auto, runs(resolved) else {
            throw .xtsKernelUnavailable(kernel, missing: missingFeatures(for: resolved), runnable: xtsKernels)
        }
        return resolved
    }
}

// The Key Locker engines' keys report their engine's kernel, and the
// keylocker engine its own (no XTSKernel applies to it).

extension KeyLockerEngine {
    public var kernelName: String { XTSKernel.keyLockerKernelName }
}

extension KeyLockerXTSKey {
    public var kernelName: String { locker.kernelName }
}
