import Foundation
import Testing

/// `klfs bench lifecycle --rounds 2 --json` through the built binary, per
/// engine: the report has the documented shape, its numbers are sane (a
/// suspend blocks every load thread, a lock refuses each of them, the
/// passphrase's KDF costs time), every acknowledged byte read back equal,
/// and the scratch mount is gone afterwards. The engines run one after
/// the other, so that no other run's scratch mount is in mountinfo.
@Suite struct BenchLifecycleSmokeTests {
    static let threads = 2

    @Test func twoRoundsReportEveryCycleAndReadBackEveryByte() throws {
        for (engine, extra) in [("keylocker-soft", [String]()), ("keylocker", ["--emulate-keylocker"]), ("aesni", [])] {
            try checkTwoRounds(engine: engine, extra: extra)
        }
    }

    private func checkTwoRounds(engine: String, extra: [String]) throws {
        let run = try runKLFS(["bench", "lifecycle", "--rounds", "2", "--hold-ms", "5", "--threads", "\(Self.threads)",
                               "--json", "--engine", engine] + extra)
        #expect(!mountedPaths().contains { $0.contains("/klfs-bench-lifecycle-") }, "the scratch mount is still there")
        try #require(run.status == 0, "bench lifecycle failed: \(run.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        #expect(report["engine"] as? String == engine)
        #expect(report["threads"] as? Int == Self.threads && report["rounds"] as? Int == 2)
        #expect((report["kdfMicros"] as? Double ?? 0) > 0, "a passphrase resume costs no more than a master key one")

        let cycles = try #require(report["cycles"] as? [[String: Any]])
        #expect(cycles.map { $0["kind"] as? String } == ["suspend-passphrase", "suspend-masterkey", "lock", "iwkey-loss"])
        for cycle in cycles {
            let kind = cycle["kind"] as? String ?? "?"
            if kind == "iwkey-loss" && engine == "aesni" {
                #expect(cycle["rounds"] as? Int == 0 && cycle["unsupported"] is String, "aesni has no IWKey to lose")
                continue
            }
            #expect(cycle["rounds"] as? Int == 2, "\(kind)")
            try checkMetrics(try #require(cycle["metrics"] as? [String: [String: Double]]), of: kind)
        }

        let integrity = try #require(report["integrity"] as? [String: Any])
        #expect(integrity["ok"] as? Bool == true, "\(integrity)")
        #expect(integrity["files"] as? Int == Self.threads && integrity["differingBlocks"] as? Int == 0)
        let requests = try #require(report["requests"] as? [String: Int])
        #expect((requests["done"] ?? 0) > 0 && (requests["refused"] ?? 0) > 0 && requests["failed"] == 0)
        #expect((try #require(report["steadyRequestMicros"] as? [String: Double])["median"] ?? 0) > 0)
        try checkLoadIWKey(report["loadIWKey"] as? [String: Any], emulated: !extra.isEmpty)
    }

    /// Each metric the kind has, with min <= median <= p90 <= max; times
    /// positive, except the ones measured from the withdraw request to a
    /// request that may have ended as early.
    private func checkMetrics(_ metrics: [String: [String: Double]], of kind: String) throws {
        let blocks = kind.hasPrefix("suspend")
        var expected: Set<String> = ["withdrawMicros", "resumeMicros", "firstDoneAfterResumeMicros", "blockedRequests",
                                     "refusedRequests", "longestRequestMicros"]
        expected.insert(blocks ? "lastDoneMicros" : "firstRefusedMicros")
        if kind == "iwkey-loss" { expected.insert("lockedSeenMicros") }
        #expect(Set(metrics.keys) == expected, "\(kind)")
        for (name, values) in metrics {
            let (median, p90, least, most) = (values["median"] ?? -1, values["p90"] ?? -1, values["min"] ?? -1, values["max"] ?? -1)
            #expect(least <= median && median <= p90 && p90 <= most, "\(kind) \(name): \(values)")
            let mayBeZero = name.hasSuffix("Requests") || name == "lastDoneMicros" || name == "firstRefusedMicros"
            #expect(mayBeZero ? least >= 0 : least > 0, "\(kind) \(name): \(values)")
        }
        if blocks {
            // The runner resumes only once every thread waits in a request.
            #expect(metrics["blockedRequests"]?["min"] == Double(Self.threads), "\(kind)")
            #expect(metrics["refusedRequests"]?["max"] == 0, "\(kind)")
        } else {
            // ... or once every thread was refused at least once.
            #expect((metrics["refusedRequests"]?["min"] ?? 0) >= Double(Self.threads), "\(kind)")
        }
    }

    /// Under the emulator, LOADIWKEY burns at least the configured cycles.
    private func checkLoadIWKey(_ report: [String: Any]?, emulated: Bool) throws {
        guard emulated else {
            #expect(report == nil)
            return
        }
        let report = try #require(report)
        #expect(report["configuredSoftwareKeyCycles"] as? Int == 130)
        #expect(report["configuredRandomKeyCycles"] as? Int == 25_000)
        let random = try #require(report["randomKeyTicks"] as? [String: Double])
        let software = try #require(report["softwareKeyTicks"] as? [String: Double])
        #expect((random["min"] ?? 0) >= 25_000 && (software["min"] ?? 0) >= 130)
        #expect((random["median"] ?? 0) > (software["median"] ?? .infinity))
    }
}
