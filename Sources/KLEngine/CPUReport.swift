import CKLKernels

/// The text `klfs cpu` prints: what the CPU and kernel offer, and the
/// engine `auto` picks with the reason.
public struct CPUReport: Sendable {
    public let features: CPUFeatures

    public init(features: CPUFeatures = .detect()) { self.features = features }

    public var lines: [String] {
        let raw = features.raw
        var lines = [
            "CPU:            \(features.brand.isEmpty ? features.vendor : features.brand)",
            "AES:            AES-NI \(yesNo(raw.aesni)), PCLMULQDQ \(yesNo(raw.pclmulqdq)), "
                + "VAES \(yesNo(raw.vaes)), VPCLMULQDQ \(yesNo(raw.vpclmulqdq)), AVX2 \(yesNo(raw.avx2)), "
                + "AVX-512 F/BW/VL \(yesNo(raw.avx512f && raw.avx512bw && raw.avx512vl))"
                + (raw.avx512f && !raw.os_saves_zmm ? " (ZMM state not enabled by the OS)" : ""),
            "XTS kernels:    " + XTSKernel.concrete.map(kernelSupport).joined(separator: ", "),
            "XTS kernel:     \(autoKernel) by default (aesni and keylocker-soft engines; --xts-kernel picks another)",
            "Key Locker:     \(features.keyLocker.explanation)"
                + (KeyLockerEmulator.isInstalled ? ", emulated by klfs" : ""),
        ]
        if raw.keylocker {
            lines.append("  restrictions: CPL0-only \(yesNo(raw.restrict_cpl0)), "
                + "no-encrypt \(yesNo(raw.restrict_no_encrypt)), no-decrypt \(yesNo(raw.restrict_no_decrypt))")
            lines.append("  IWKey:        backup MSRs \(yesNo(raw.iwkey_backup)), "
                + "NoBackup \(yesNo(raw.iwkey_nobackup)), random KeySource \(yesNo(raw.iwkey_random))")
        }
        lines.append("Secret memory:  " + (klfs_memfd_secret_available()
            ? "memfd_secret (IWKey and key schedules outside the kernel's direct map)"
            : "memfd_secret unavailable; falling back to mlock + MADV_DONTDUMP + MADV_WIPEONFORK"))
        let decision = EngineDecision(features: features)
        lines.append("Engine auto:    \(decision.kind.rawValue), because \(decision.reason)")
        return lines
    }

    /// "vaes-256 yes", or "vaes-512 no (lacks AVX-512F, ...)".
    private func kernelSupport(_ kernel: XTSKernel) -> String {
        let missing = features.missingFeatures(for: kernel)
        return "\(kernel.rawValue) \(yesNo(missing.isEmpty))"
            + (missing.isEmpty ? "" : " (lacks \(missing.joined(separator: ", ")))")
    }

    private var autoKernel: String { (try? features.resolve(.auto))?.rawValue ?? "none" }

    private func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }
}
