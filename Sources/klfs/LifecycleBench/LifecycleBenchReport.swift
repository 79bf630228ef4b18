import KLEngine

/// `klfs bench lifecycle --json` (docs/BENCH.md, "klfs bench lifecycle"):
/// the keys are part of the interface.
struct LifecycleBenchReport: Codable {
    var engine: String
    /// The XTS kernel the daemon ran, as its status reports it.
    var xtsKernel: String?
    /// The keylocker engine ran under the instruction emulator.
    var emulated: Bool
    var threads: Int
    var rounds: Int
    var holdMilliseconds: Int
    /// The volume's Argon2id cost, which every passphrase resume pays.
    var kdfOpslimit: UInt64
    var kdfMemoryMiB: UInt64
    /// Median resume with the passphrase minus median resume with the
    /// master key: what the KDF adds.
    var kdfMicros: Double?
    var cycles: [CycleReport]
    /// Under --emulate-keylocker only.
    var loadIWKey: LoadIWKeyReport?
    var requests: RequestCounts
    /// The latency of the load's requests outside every cycle: what the
    /// cycles' numbers compare with.
    var steadyRequestMicros: Distribution?
    var integrity: IntegrityReport

    struct CycleReport: Codable {
        var kind: LifecycleCycleKind
        /// Cycles measured (0 when unsupported).
        var rounds: Int
        /// Why the engine cannot run this cycle, when it cannot.
        var unsupported: String?
        var metrics: [LifecycleMetric: Distribution]
    }

    struct RequestCounts: Codable {
        var done: Int
        /// Refused with EKEYREVOKED (and, for writes, retried).
        var refused: Int
        /// Any other error, or a read that differed from the model.
        var failed: Int
    }

    struct IntegrityReport: Codable {
        /// Every acknowledged byte read back equal, and no read during the
        /// run differed either.
        var ok: Bool
        var files: Int
        var bytes: Int
        /// 4 KiB blocks that read back different at the end.
        var differingBlocks: Int
        /// What went wrong, one line each (at most 20).
        var problems: [String]
    }
}

/// Median, 90th percentile (nearest rank), least and greatest of one
/// metric over the rounds.
struct Distribution: Codable, Equatable {
    var median: Double
    var p90: Double
    var min: Double
    var max: Double

    init?(_ values: [Double]) {
        guard let median = KLEngine.median(values) else { return nil }
        let sorted = values.sorted()
        self.median = median
        p90 = sorted[Swift.max(0, Int((0.9 * Double(sorted.count)).rounded(.up)) - 1)]
        min = sorted[0]
        max = sorted[sorted.count - 1]
    }
}
