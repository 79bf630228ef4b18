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

/// Makes the engine a user asked for.
public func makeEngine(_ choice: EngineChoice, features: CPUFeatures = .detect()) throws(EngineError) -> any XTSEngine {
    let kind: EngineKind
    switch choice {
    case .auto: kind = EngineDecision(features: features).kind
    case .keylocker: kind = .keylocker
    case .keylockerSoft: kind = .keylockerSoft
    case .aesni: kind = .aesni
    }
    return try makeEngine(kind, features: features)
}

public func makeEngine(_ kind: EngineKind, features: CPUFeatures = .detect()) throws(EngineError) -> any XTSEngine {
    switch kind {
    case .keylocker: return try KeyLockerEngine(features: features)
    case .keylockerSoft: return try SoftKeyLockerEngine(features: features)
    case .aesni: return try AESNIEngine(features: features)
    }
}
