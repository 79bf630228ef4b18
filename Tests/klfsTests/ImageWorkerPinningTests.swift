import Foundation
import Glibc
import KLTestSupport
import Testing

/// An image mount's workers spin for the next request instead of sleeping,
/// so no wakeup ever moves them: each is pinned to a CPU of its own when
/// there are enough CPUs, and none is when there are more workers than CPUs
/// (session_loop.c).
@Suite(.serialized) struct ImageWorkerPinningTests {
    @Test func eachWorkerHasACPUOfItsOwnWhenThereAreEnough() throws {
        let cpus = try cpuList(of: "/proc/self/status")
        try #require(cpus.count >= 2, "needs two CPUs: \(cpus)")
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        try fixture.requireOpen(["-o", "workers=2"])
        let pinned = try pinnedCPUs(ofThreadsOf: try #require(fixture.daemonPID()))
        #expect(pinned == Array(cpus.prefix(2)), "one worker on each of the first two CPUs")
    }

    @Test func noWorkerIsPinnedWhenThereAreMoreWorkersThanCPUs() throws {
        let cpus = try cpuList(of: "/proc/self/status")
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        try fixture.requireOpen(["-o", "workers=\(cpus.count + 1)"])
        #expect(try pinnedCPUs(ofThreadsOf: try #require(fixture.daemonPID())).isEmpty)
    }

    /// The CPUs of the daemon's threads that may run on one CPU only, sorted.
    private func pinnedCPUs(ofThreadsOf pid: pid_t) throws -> [Int] {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return try tasks.compactMap { task -> Int? in
            let cpus = try cpuList(of: "/proc/\(pid)/task/\(task)/status")
            return cpus.count == 1 ? cpus[0] : nil
        }.sorted()
    }

    /// The CPUs a status file's Cpus_allowed_list names ("0-3,6").
    private func cpuList(of statusPath: String) throws -> [Int] {
        let status = try String(contentsOfFile: statusPath, encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        let list = line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
        return try list.split(separator: ",").flatMap { range -> [Int] in
            let bounds = try range.split(separator: "-").map { try #require(Int($0)) }
            return Array(bounds[0]...bounds[bounds.count - 1])
        }
    }
}
