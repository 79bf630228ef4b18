import Foundation
import Glibc
import Testing

/// Once the mount is ready, the daemon's readable memory holds no copy of
/// the master key, of either XTS key, of the names key, or of the passphrase.
@Suite struct MountMemoryTests {
    @Test(arguments: [("keylocker-soft", [String]()), ("keylocker", ["--emulate-keylocker"]), ("aesni", [])])
    func daemonMemoryHoldsNoKeyAndNoPassphrase(engine: String, extra: [String]) throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount(extra, engine: engine)
        // Use the mount so that every code path has run once.
        try Data(bytes(20_000, seed: 9)).write(to: URL(fileURLWithPath: volume.path("f")))
        _ = try Data(contentsOf: URL(fileURLWithPath: volume.path("f")))
        let pid = try #require(volume.daemonPID())
        let needles: [(String, [UInt8])] = [
            ("master key", volume.masterKey),
            ("XTS data key K1", Array(volume.masterKey[..<32])),
            ("XTS tweak key K2", Array(volume.masterKey[32...])),
            ("names key", SpecReader.namesKey(masterKey: volume.masterKey)),
            ("passphrase", Array(VolumeFixture.passphrase.utf8)),
        ]
        let scan = try MemoryScan(pid: pid)
        #expect(scan.bytesScanned > 1 << 20)
        // Positive control: the scan does find what the daemon does hold.
        #expect(scan.contains(Array(volume.cipherDir.utf8)))
        for (name, needle) in needles {
            // Only the name is reported: the test never prints a secret.
            #expect(!scan.contains(needle), "\(engine): the daemon's memory holds the \(name)")
        }
    }
}

/// A snapshot of every readable region of another process's memory,
/// through /proc/PID/mem (regions the kernel refuses, such as
/// memfd_secret mappings, are skipped: they are not readable).
struct MemoryScan {
    private(set) var regions: [[UInt8]] = []
    var bytesScanned: Int { regions.reduce(0) { $0 + $1.count } }

    init(pid: pid_t) throws {
        let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
        let memory = open("/proc/\(pid)/mem", O_RDONLY)
        try #require(memory >= 0, "open /proc/\(pid)/mem: errno \(errno)")
        defer { close(memory) }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("r"), !line.hasSuffix("[vvar]"),
                  !line.hasSuffix("[vsyscall]") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            guard bounds.count == 2 else { continue }
            var region = [UInt8](repeating: 0, count: Int(bounds[1] - bounds[0]))
            let read = region.withUnsafeMutableBytes { buffer in
                pread(memory, buffer.baseAddress, buffer.count, off_t(Int64(bitPattern: bounds[0])))
            }
            if read > 0 { regions.append(Array(region.prefix(read))) }
        }
    }

    func contains(_ needle: [UInt8]) -> Bool {
        regions.contains { region in
            region.withUnsafeBytes { haystack in
                needle.withUnsafeBytes { pattern in
                    var start = 0
                    while start + pattern.count <= haystack.count {
                        guard let hit = memchr(haystack.baseAddress! + start, Int32(pattern[0]),
                                               haystack.count - start - pattern.count + 1) else { return false }
                        let offset = haystack.baseAddress!.distance(to: UnsafeRawPointer(hit))
                        if memcmp(hit, pattern.baseAddress!, pattern.count) == 0 { return true }
                        start = offset + 1
                    }
                    return false
                }
            }
        }
    }
}
