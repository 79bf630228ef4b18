import KLEngine

/// What takes the keys away in one measured cycle of `klfs bench
/// lifecycle`, and which secret gives them back. The JSON names them by
/// their raw values.
enum LifecycleCycleKind: String, CaseIterable, Codable {
    /// `klfs suspend`, then `klfs resume` with the passphrase (KDF included).
    case suspendPassphrase = "suspend-passphrase"
    /// `klfs suspend`, then `klfs resume --masterkey`: no KDF, so the
    /// difference from the one above is the passphrase's cost.
    case suspendMasterKey = "suspend-masterkey"
    /// `klfs lock`, then `klfs resume --masterkey`.
    case lock
    /// The IWKey replaced under the mount (`klfs iwkey-event MOUNTPOINT
    /// newKey`), then `klfs resume --masterkey`.
    case iwkeyLoss = "iwkey-loss"

    var withdrawal: ControlRequest {
        switch self {
        case .suspendPassphrase, .suspendMasterKey: return .suspend
        case .lock: return .lock
        case .iwkeyLoss: return .iwkeyEvent(IWKeyEvent.newKey.rawValue)
        }
    }

    var resumeKey: ControlRequest.SecretKind { self == .suspendPassphrase ? .passphrase : .masterkey }

    /// Requests wait (suspended) rather than fail with EKEYREVOKED (locked).
    var blocksRequests: Bool { self == .suspendPassphrase || self == .suspendMasterKey }

    var title: String {
        switch self {
        case .suspendPassphrase: return "suspend, resume with the passphrase"
        case .suspendMasterKey: return "suspend, resume with the master key"
        case .lock: return "lock, resume with the master key"
        case .iwkeyLoss: return "IWKey loss (newKey event), resume with the master key"
        }
    }
}

/// When each step of one measured cycle happened (CLOCK_MONOTONIC
/// nanoseconds, as ``LoadRequest`` records them).
struct CycleTimeline {
    var kind: LifecycleCycleKind
    var withdrawSent: UInt64
    var withdrawAnswered: UInt64
    /// IWKey loss only: the first `status` that said locked.
    var lockedSeen: UInt64?
    var resumeSent: UInt64
    var resumeAnswered: UInt64
    /// Every load thread has had a request done since the resume.
    var settled: UInt64
}

extension CycleTimeline {
    /// The requests that ran at some time between the withdraw request and
    /// the load being served again.
    func overlapping(_ requests: [LoadRequest]) -> [LoadRequest] {
        requests.filter { $0.end >= withdrawSent && $0.start <= settled }
    }
}
