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
        let process = Process()
        process.executableURL = Self.script
        process.arguments = ["--files", "2000", "--dirs", "20", "--settle-seconds", "1", "--json", "--klfs", klfsBinary.path] + extra
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "bench/many-files failed: \(log)")
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains("klfs-many-files"), "a mount was left behind: \(mounts)")
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    }

    private func result(of step: [String: Any], for name: String) throws -> [String: Any] {
        let results = try #require(step["results"] as? [String: Any])
        return try #require(results[name] as? [String: Any])
    }

    @Test(.enabled(if: geteuid() == 0, "mounts tmpfs and drops caches: root only"))
    func everyStepRunsOnBothFilesystems() throws {
        let report = try runScript([])
        #expect(report["filesystems"] as? [String] == ["gocryptfs", "klfs"])
        let parameters = try #require(report["parameters"] as? [String: Any])
        #expect(parameters["files"] as? Int == 2000)
        #expect(parameters["directories"] as? Int == 20)
        let steps = try #require(report["steps"] as? [[String: Any]])
        #expect(steps.map { $0["key"] as? String } == Self.steps)
        for step in steps {
            for name in ["gocryptfs", "klfs"] {
                let outcome = try result(of: step, for: name)
                #expect(outcome["error"] is NSNull, "\(name) \(step["key"] ?? "?"): \(outcome["error"] ?? "?")")
                #expect((outcome["seconds"] as? Double ?? 0) > 0)
                #expect((outcome["peak_rss_kib"] as? Int ?? 0) > 0)
                #expect((outcome["peak_descriptors"] as? Int ?? 0) > 0)
            }
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
        #expect(report["failures"] as? Int == 0)
    }

    @Test(.enabled(if: geteuid() == 0, "mounts tmpfs and drops caches: root only"))
    func bothDaemonsRunEveryStepUnderALowDescriptorLimit() throws {
        let report = try runScript(["--limit-descriptors", "512"])
        let daemons = try #require(report["daemons"] as? [String: [String: Any]])
        for name in ["gocryptfs", "klfs"] {
            let limit = try #require(daemons[name]?["descriptor_limit"] as? [String: Int])
            #expect(limit == ["soft": 512, "hard": 512])
        }
        let steps = try #require(report["steps"] as? [[String: Any]])
        #expect(steps.map { $0["key"] as? String } == Self.steps)
        for step in steps {
            for name in ["gocryptfs", "klfs"] {
                let outcome = try result(of: step, for: name)
                #expect(outcome["error"] is NSNull, "\(name) \(step["key"] ?? "?"): \(outcome["error"] ?? "?")")
                #expect((outcome["peak_descriptors"] as? Int ?? 0) <= 512)
            }
        }
        #expect(report["failures"] as? Int == 0)
    }
}
