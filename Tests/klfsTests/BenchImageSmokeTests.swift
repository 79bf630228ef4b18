import Foundation
import Glibc
import Testing

/// `klfs bench image` (bench/image) at its smallest against the built klfs:
/// every case runs on every target, the JSON has the documented shape and
/// numbers that agree with each other, and nothing it mounted or attached
/// is left, after a normal run and after a SIGINT in the middle of one.
@Suite(.serialized) struct BenchImageSmokeTests {
    static let smallest = ["--quick", "--size", "64M", "--runtime", "0.3", "--settle-seconds", "0.2",
                           "--files", "1000", "--dirs", "10"]
    static let targets = ["tmpfs", "passthrough_ll", "klfs-keylocker-soft"]
    static let fioCases = ["randread_4k_qd1", "randread_4k_qd16", "randwrite_4k_qd1", "randwrite_4k_qd16",
                           "seqread_1m", "seqwrite_1m"]

    @Test(.enabled(if: geteuid() == 0, "mounts tmpfs, FUSE and ext4 and attaches loop devices: root only"))
    func smallestRunReportsEveryCaseOnEveryTarget() throws {
        let run = try runKLFS(["bench", "image", "--json"] + Self.smallest)
        try #require(run.status == 0, "klfs bench image failed: \(run.standardError)")
        expectNothingLeft()
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        let targets = try #require(report["targets"] as? [[String: Any]])
        #expect(targets.map { $0["name"] as? String } == Self.targets)
        #expect(targets.map { $0["kind"] as? String } == ["tmpfs", "passthrough_ll", "klfs"])
        let parameters = try #require(report["parameters"] as? [String: Any])
        #expect(parameters["image_bytes"] as? Int == 64 << 20)
        #expect(parameters["files"] as? Int == 1000)
        #expect(parameters["sector_size"] as? Int == 512)
        #expect(parameters["direct"] is Bool)
        let cases = try #require(report["cases"] as? [[String: Any]])
        #expect(cases.map { $0["key"] as? String } == Self.fioCases + ["ext4_untar"])
        var goalsMet: [Bool] = []
        for item in cases {
            let results = try #require(item["results"] as? [String: [String: Any]])
            let isFio = item["kind"] as? String == "fio"
            let value = isFio ? "mib_per_second" : "seconds"
            for name in Self.targets {
                let result = try #require(results[name], "\(item["key"] ?? "?"): no \(name)")
                try checkResult(result, of: item, isFio: isFio)
                #expect((result["samples"] as? [Any])?.count == 1)
            }
            let ratios = try #require(item["ratios"] as? [String: [String: Any]])
            let klfs = try #require(ratios["klfs-keylocker-soft"])
            // Each round's ratio of the samples, and their median.
            let klfsSamples = try samples(of: value, in: results["klfs-keylocker-soft"])
            for base in ["passthrough_ll", "tmpfs"] {
                let rounds = zip(klfsSamples, try samples(of: value, in: results[base])).map { $0 / $1 }
                let given = try #require(klfs["rounds_over_" + base] as? [Double])
                #expect(given.count == rounds.count && zip(given, rounds).allSatisfy { abs($0 - $1) <= 1e-9 * $1 },
                        "\(item["key"] ?? "?") rounds over \(base)")
                let expected = median(rounds)
                let ratio = try #require(klfs["over_" + base] as? Double)
                #expect(abs(ratio - expected) <= 1e-9 * expected, "\(item["key"] ?? "?") over \(base)")
            }
            let met = try #require(klfs["goal_met"] as? Bool)
            let measured = try #require(klfs[isFio ? "over_passthrough_ll" : "over_tmpfs"] as? Double)
            #expect(met == (isFio ? measured >= 0.9 : measured <= 1.3), "\(item["key"] ?? "?"): goal_met \(met) at \(measured)")
            goalsMet.append(met)
        }
        #expect(report["goals_met"] as? Bool == goalsMet.allSatisfy { $0 })
    }

    /// --type luks2 benchmarks a LUKS2 image (header included in the raw
    /// targets' file), every case on every target.
    @Test(.enabled(if: geteuid() == 0, "mounts tmpfs, FUSE and ext4 and attaches loop devices: root only"))
    func aLUKS2ImageRunsEveryCase() throws {
        let run = try runKLFS(["bench", "image", "--json", "--type", "luks2"] + Self.smallest)
        try #require(run.status == 0, "klfs bench image --type luks2 failed: \(run.standardError)")
        expectNothingLeft()
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        #expect((report["parameters"] as? [String: Any])?["image_type"] as? String == "luks2")
        let cases = try #require(report["cases"] as? [[String: Any]])
        #expect(cases.map { $0["key"] as? String } == Self.fioCases + ["ext4_untar"])
        for item in cases {
            let results = try #require(item["results"] as? [String: [String: Any]])
            let isFio = item["kind"] as? String == "fio"
            for name in Self.targets {
                let result = try #require(results[name], "\(item["key"] ?? "?"): no \(name)")
                try checkResult(result, of: item, isFio: isFio)
            }
        }
    }

    /// A fio result: IOPS times the block size is the MiB/s, and neither is
    /// absurd for a tmpfs-backed file (a stuck run or a unit slip shows);
    /// an untar took some time, and less than the whole test may.
    private func checkResult(_ result: [String: Any], of item: [String: Any], isFio: Bool) throws {
        let key = item["key"] as? String ?? "?"
        guard isFio else {
            let seconds = try #require(result["seconds"] as? Double)
            #expect(seconds > 0.001 && seconds < 60, "\(key): \(seconds) s")
            return
        }
        let iops = try #require(result["iops"] as? Double)
        let mib = try #require(result["mib_per_second"] as? Double)
        let blockKiB = try #require(item["block_kib"] as? Double)
        #expect(iops > 50 && mib < 100_000, "\(key): \(iops) IOPS, \(mib) MiB/s")
        #expect(abs(iops * blockKiB / 1024 - mib) <= 0.01 * mib, "\(key): \(iops) IOPS of \(blockKiB) KiB is not \(mib) MiB/s")
    }

    /// SIGINT while fio runs on the mounts: the script unwinds, and every
    /// mount, loop device and temporary directory is gone.
    @Test(.enabled(if: geteuid() == 0, "mounts tmpfs, FUSE and ext4 and attaches loop devices: root only"))
    func interruptedRunLeavesNothing() throws {
        let process = Process()
        process.executableURL = klfsBinary
        process.arguments = ["bench", "image"] + Self.smallest.map { $0 == "0.3" ? "5" : $0 }
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var seen = ""
        // The first result line: every target is mounted and fio has run once.
        while !seen.contains("round 1/1: "), process.isRunning {
            seen += String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
        }
        try #require(process.isRunning, "the bench ended before it could be interrupted: \(seen)")
        #expect(mountedSources().contains("klfs-bench-image"), "nothing mounted to clean up")
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0 || process.terminationReason == .uncaughtSignal)
        expectNothingLeft()
    }

    private func mountedSources() -> String {
        (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    }

    private func expectNothingLeft() {
        let mounts = mountedSources()
        #expect(!mounts.contains("klfs-bench-image"), "a mount was left behind: \(mounts)")
        let loops = (try? runCommand(URL(fileURLWithPath: "/usr/sbin/losetup"), ["-a"]))?.standardOutput ?? ""
        #expect(!loops.contains("klfs-bench-image"), "a loop device was left attached: \(loops)")
        // Python's tempfile and NSTemporaryDirectory both follow $TMPDIR.
        let temporary = (try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? []
        #expect(!temporary.contains { $0.hasPrefix("klfs-bench-image-") }, "a work directory was left behind")
    }
}

/// A target's per-round values of `key`, in round order.
private func samples(of key: String, in result: [String: Any]?) throws -> [Double] {
    let rounds = try #require(result?["samples"] as? [[String: Any]])
    return try rounds.map { try #require($0[key] as? Double) }
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
