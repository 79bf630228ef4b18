import Foundation
import Glibc
import Testing

/// bench/many-files at 2,000 files in 20 directories against the built
/// klfs and gocryptfs: every step runs, the report has the documented
/// shape, and every mount comes down. Under a low descriptor limit both
/// daemons stay below it (klfs's descriptor cache takes half of it).
@Suite(.serialized) struct BenchManyFilesSmokeTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("bench/many-files")
    static let steps = ["extract", "ls", "du", "read", "rm"]

    private func runScript(_ extra: [String]) throws -> [String: Any] {
        let run = try runCommand(Self.script, ["--files", "2000", "--dirs", "20", "--settle-seconds", "1", "--json",
                                                "--klfs", klfsBinary.path] + extra)
        try #require(run.status == 0, "bench/many-files failed: \(run.standardError)")
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains("klfs-many-files"), "a mount was left behind: \(mounts)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    }

    /// Every step's result on both filesystems, having checked that the
    /// steps are the documented ones and that none failed.
    private func outcomes(in report: [String: Any]) throws -> [[String: Any]] {
        let steps = try #require(report["steps"] as? [[String: Any]])
        #expect(steps.map { $0["key"] as? String } == Self.steps)
        #expect(report["failures"] as? Int == 0)
        var outcomes: [[String: Any]] = []
        for step in steps {
            let results = try #require(step["results"] as? [String: Any])
            for name in ["gocryptfs", "klfs"] {
                let outcome = try #require(results[name] as? [String: Any])
                #expect(outcome["error"] is NSNull, "\(name) \(step["key"] ?? "?"): \(outcome["error"] ?? "?")")
                outcomes.append(outcome)
            }
        }
        return outcomes
    }

    @Test(.enabled(if: geteuid() == 0, "mounts tmpfs and drops caches: root only"))
    func everyStepRunsOnBothFilesystems() throws {
        let report = try runScript([])
        #expect(report["filesystems"] as? [String] == ["gocryptfs", "klfs"])
        let parameters = try #require(report["parameters"] as? [String: Any])
        #expect(parameters["files"] as? Int == 2000)
        #expect(parameters["directories"] as? Int == 20)
        for outcome in try outcomes(in: report) {
            #expect((outcome["seconds"] as? Double ?? 0) > 0)
            #expect((outcome["peak_rss_kib"] as? Int ?? 0) > 0)
            #expect((outcome["peak_descriptors"] as? Int ?? 0) > 0)
        }
        for step in try #require(report["steps"] as? [[String: Any]]) {
            let ratios = try #require(step["klfs_over_gocryptfs"] as? [String: Any])
            #expect((ratios["seconds"] as? Double ?? 0) > 0)
        }
        let daemons = try #require(report["daemons"] as? [String: [String: Any]])
        for name in ["gocryptfs", "klfs"] {
            let daemon = try #require(daemons[name])
            #expect((daemon["peak_rss_kib"] as? Int ?? 0) > 0)
            #expect((daemon["peak_descriptors"] as? Int ?? 0) > 0)
            #expect(daemon["remounts"] as? Int == 0)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "mounts tmpfs and drops caches: root only"))
    func bothDaemonsRunEveryStepUnderALowDescriptorLimit() throws {
        let report = try runScript(["--limit-descriptors", "512"])
        let daemons = try #require(report["daemons"] as? [String: [String: Any]])
        for name in ["gocryptfs", "klfs"] {
            let limit = try #require(daemons[name]?["descriptor_limit"] as? [String: Int])
            #expect(limit == ["soft": 512, "hard": 512])
        }
        for outcome in try outcomes(in: report) {
            #expect((outcome["peak_descriptors"] as? Int ?? 0) <= 512)
        }
    }
}
