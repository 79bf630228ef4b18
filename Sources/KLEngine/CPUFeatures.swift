import CKLKernels

/// What CPUID says about AES and Key Locker support. Read with the CPUID
/// instruction itself, so the emulator's CPUID faulting answers it too.
public struct CPUFeatures: Sendable {
    public let raw: klfs_cpu_features

    /// Features as given, not detected (tests describe other CPUs so).
    public init(raw: klfs_cpu_features) { self.raw = raw }

    public static func detect() -> CPUFeatures {
        var features = klfs_cpu_features()
        klfs_cpu_detect(&features)
        return CPUFeatures(raw: features)
    }

    public var brand: String {
        withUnsafeBytes(of: raw.brand) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            .trimmingSpaces()
    }

    public var vendor: String {
        withUnsafeBytes(of: raw.vendor) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    public var hasVAES512: Bool {
        withUnsafePointer(to: raw) { klfs_cpu_has_vaes512($0) }
    }

    public var keyLocker: KeyLockerSupport {
        if !raw.keylocker { return .absent }
        if !raw.aeskle { return .disabledByOS }
        if !raw.wide_kl { return .withoutWide }
        return .ready
    }

    /// Whether the tweak handle can carry the no-decrypt restriction.
    public var supportsNoDecryptRestriction: Bool { raw.restrict_no_decrypt }
}

/// The four states CPUID can put Key Locker in.
public enum KeyLockerSupport: Sendable {
    /// CPUID.(EAX=7,ECX=0):ECX[23] = 0.
    case absent
    /// Present, but the OS never set CR4.KL: CPUID.19H:EBX.AESKLE = 0, and
    /// every KL instruction raises #UD (mainline Linux).
    case disabledByOS
    /// Enabled, but no AESENCWIDE/AESDECWIDE: CPUID.19H:EBX.WIDE_KL = 0.
    case withoutWide
    /// Present, enabled and wide: the keylocker engine can run.
    case ready

    public var explanation: String {
        switch self {
        case .absent: return "not present on this CPU (CPUID.(EAX=7,ECX=0):ECX[23]=0)"
        case .disabledByOS: return "present but not enabled by the kernel (CPUID.19H:EBX.AESKLE=0)"
        case .withoutWide: return "enabled but without the wide instructions (CPUID.19H:EBX.WIDE_KL=0)"
        case .ready: return "present, enabled by the kernel and wide (AESKLE=1, WIDE_KL=1)"
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var view = Substring(self)
        while view.first == " " { view = view.dropFirst() }
        while view.last == " " { view = view.dropLast() }
        return String(view)
    }
}
