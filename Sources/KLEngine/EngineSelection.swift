import CKLKernels

/// What `--engine` accepts.
public enum EngineChoice: String, CaseIterable, Sendable {
    case auto
    case keylocker
    case keylockerSoft = "keylocker-soft"
    case aesni
}

/// The engine `auto` picks on a CPU, and why.
public struct EngineDecision: Sendable {
    public let kind: EngineKind
    public let reason: String

    public init(features: CPUFeatures) {
        let support = features.keyLocker
        if support == .ready {
            kind = .keylocker
            reason = KeyLockerEmulator.isInstalled
                ? "Key Locker is emulated (--emulate-keylocker)"
                : "Key Locker is \(support.explanation)"
        } else {
            kind = .keylockerSoft
            reason = "Key Locker is \(support.explanation)"
        }
    }
}

/// Makes the engine a user asked for, on the XTS kernel asked for.
public func makeEngine(_ choice: EngineChoice, xtsKernel: XTSKernel = .auto,
                       features: CPUFeatures = .detect()) throws(EngineError) -> any XTSEngine {
    let kind: EngineKind
    switch choice {
    case .auto: kind = EngineDecision(features: features).kind
    case .keylocker: kind = .keylocker
    case .keylockerSoft: kind = .keylockerSoft
    case .aesni: kind = .aesni
    }
    return try makeEngine(kind, xtsKernel: xtsKernel, features: features)
}

/// A kernel other than `auto` for the keylocker engine is refused, not
/// ignored: it runs its own kernel, and a run that claimed another (a
/// benchmark, a mount a user tunes) would mislead.
public func makeEngine(_ kind: EngineKind, xtsKernel: XTSKernel = .auto,
                       features: CPUFeatures = .detect()) throws(EngineError) -> any XTSEngine {
    switch kind {
    case .keylocker:
        guard xtsKernel == .auto else { throw .xtsKernelNotSelectable(kind) }
        return try KeyLockerEngine(features: features)
    case .keylockerSoft: return try SoftKeyLockerEngine(features: features, xtsKernel: xtsKernel)
    case .aesni: return try AESNIEngine(features: features, xtsKernel: xtsKernel)
    }
}
