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
        let process = Process()
        process.executableURL = Self.script
        process.arguments = ["--quick", "--json", "--klfs", klfsBinary.path]
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "bench/compare failed: \(log)")

        let report = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
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
