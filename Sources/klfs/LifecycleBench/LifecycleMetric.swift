/// One number `klfs bench lifecycle` takes per cycle; the raw value is its
/// JSON key (times in microseconds, counts in requests). "Withdraw" is
/// the cycle's suspend, lock or IWKey event.
enum LifecycleMetric: String, CaseIterable, Codable, CodingKeyRepresentable {
    /// The withdraw request, from sending it to the daemon's answer (the
    /// handles are wiped by then).
    case withdrawMicros
    /// Suspend: from sending it to the end of the last load request done
    /// before the resume was sent; from then on the load was blocked.
    case lastDoneMicros
    /// Lock, IWKey loss: from sending the withdraw request to the first
    /// load request refused with EKEYREVOKED.
    case firstRefusedMicros
    /// IWKey loss: from the event to the first `status` that says locked
    /// (the volume locks when a request meets a handle the new IWKey
    /// rejects, the canary too).
    case lockedSeenMicros
    /// The resume request, from sending it to the answer: unwrapping the
    /// master key (the KDF, with a passphrase) and wrapping fresh handles.
    case resumeMicros
    /// From sending the resume to the end of the first load request done
    /// after it.
    case firstDoneAfterResumeMicros
    /// Load requests in flight when the resume was sent: blocked ones,
    /// for a suspend.
    case blockedRequests
    /// Load requests refused with EKEYREVOKED during the cycle.
    case refusedRequests
    /// The longest load request that overlapped the cycle.
    case longestRequestMicros

    var isCount: Bool { self == .blockedRequests || self == .refusedRequests }

    func applies(to kind: LifecycleCycleKind) -> Bool {
        switch self {
        case .lastDoneMicros: return kind.blocksRequests
        case .firstRefusedMicros: return !kind.blocksRequests
        case .lockedSeenMicros: return kind == .iwkeyLoss
        default: return true
        }
    }

    func label(for kind: LifecycleCycleKind) -> String {
        switch self {
        case .withdrawMicros:
            switch kind {
            case .suspendPassphrase, .suspendMasterKey: return "suspend answered"
            case .lock: return "lock answered"
            case .iwkeyLoss: return "newKey event answered"
            }
        case .lastDoneMicros: return "load blocked after"
        case .firstRefusedMicros: return "first EKEYREVOKED after"
        case .lockedSeenMicros: return "status says locked after"
        case .resumeMicros: return kind.resumeKey == .passphrase ? "resume answered (KDF included)" : "resume answered"
        case .firstDoneAfterResumeMicros: return "first request done after resume"
        case .blockedRequests: return "requests in flight at resume"
        case .refusedRequests: return "requests refused (EKEYREVOKED)"
        case .longestRequestMicros: return "longest request"
        }
    }

    /// This metric of one cycle, from its timeline and the load requests
    /// that overlapped it (``CycleTimeline/overlapping(_:)``).
    func value(of cycle: CycleTimeline, during: [LoadRequest]) -> Double {
        switch self {
        case .withdrawMicros:
            return micros(cycle.withdrawAnswered - cycle.withdrawSent)
        case .lastDoneMicros:
            let lastDone = during.filter { $0.outcome == .done && $0.end < cycle.resumeSent }.map(\.end).max()
            return micros((lastDone ?? cycle.withdrawSent) - cycle.withdrawSent)
        case .firstRefusedMicros:
            let firstRefused = during.filter { $0.outcome == .revoked }.map(\.end).min()
            return micros((firstRefused ?? cycle.withdrawSent) - cycle.withdrawSent)
        case .lockedSeenMicros:
            return micros((cycle.lockedSeen ?? cycle.withdrawSent) - cycle.withdrawSent)
        case .resumeMicros:
            return micros(cycle.resumeAnswered - cycle.resumeSent)
        case .firstDoneAfterResumeMicros:
            let firstDone = during.filter { $0.outcome == .done && $0.end > cycle.resumeSent }.map(\.end).min()
            return micros((firstDone ?? cycle.settled) - cycle.resumeSent)
        case .blockedRequests:
            return Double(during.filter { $0.start < cycle.resumeSent && $0.end > cycle.resumeSent }.count)
        case .refusedRequests:
            return Double(during.filter { $0.outcome == .revoked }.count)
        case .longestRequestMicros:
            return micros(during.map(\.latency).max() ?? 0)
        }
    }

    private func micros(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1000 }
}
