import Foundation
import Glibc
import Testing

/// bench/compare --quick --json against the built klfs: every filesystem
/// mounts, every case runs (the small-file case checks what it reads back
/// against the tree's sha256), and the report has the documented shape.
@Suite struct BenchCompareSmokeTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("bench/compare")

    @Test(.enabled(if: geteuid() == 0, "mounts tmpfs and drops caches: root only"))
    func quickComparisonReportsEveryCaseForEveryFilesystem() throws {
        let run = try runCommand(Self.script, ["--quick", "--json", "--klfs", klfsBinary.path])
        try #require(run.status == 0, "bench/compare failed: \(run.standardError)")

        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        let filesystems = try #require(report["filesystems"] as? [String])
        #expect(filesystems == ["tmpfs", "passthrough_ll", "gocryptfs", "klfs"])
        let cases = try #require(report["cases"] as? [[String: Any]])
        #expect(cases.map { $0["key"] as? String } == [
            "seq_write", "seq_read_1", "seq_read_2", "randread_qd1", "randread_qd16", "randwrite_qd1",
            "randwrite_qd16", "small_extract", "small_ls", "small_du", "small_read", "small_rm",
        ])
        for item in cases {
            let medians = try #require(item["medians"] as? [String: Double])
            #expect(filesystems.allSatisfy { (medians[$0] ?? 0) > 0 }, "\(item["key"] ?? "?"): \(medians)")
            #expect((item["klfs_over_gocryptfs"] as? Double ?? 0) > 0)
        }
        let rss = try #require(report["peak_rss_kib"] as? [String: Any])
        for daemon in ["passthrough_ll", "gocryptfs", "klfs"] {
            #expect((rss[daemon] as? Int ?? 0) > 0, "no peak RSS for \(daemon)")
        }
    }
}
