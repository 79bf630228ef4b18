import Foundation
import Glibc
import Testing

/// The project's POSIX conformance suite (`Sources/klfs-conformance`) run
/// on tmpfs and on a klfs mount by the same user, and compared line by
/// line: every difference must be a known one, with its reason, and every
/// known one must still be there (docs/FUSE.md, "Conformance").
@Suite struct ConformanceTests {
    /// Root runs every check on an `allow_other` mount served by a root
    /// daemon, acting as the second user (uid 65534) where a check says so.
    @Test func rootDaemonBehavesLikeTmpfs() throws {
        let reference = try ConformanceRun.onTmpfs(asOrdinaryUser: false, label: "tmpfs-root")
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount(["-o", "allow_other"])
        let klfs = try ConformanceRun(in: volume.mountPoint, asOrdinaryUser: false, label: "klfs-root")
        volume.unmount()
        ConformanceRun.expectSame(reference, klfs, except: KnownConformanceDifferences.rootDaemon)
    }

    /// The daemon runs as an ordinary user, who runs the checks; those that
    /// need root (device nodes, chown to others) meet the same refusals on
    /// tmpfs, and those that act as a second user print "needs root" on both.
    @Test func ordinaryUserDaemonBehavesLikeTmpfs() throws {
        let reference = try ConformanceRun.onTmpfs(asOrdinaryUser: true, label: "tmpfs-user")
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let klfs = try FuseDeviceAccess.forEveryone {
            try volume.requireMountAsOrdinaryUser()
            return try ConformanceRun(in: volume.mountPoint, asOrdinaryUser: true, label: "klfs-user")
        }
        volume.unmount()
        ConformanceRun.expectSame(reference, klfs, except: KnownConformanceDifferences.ordinaryUserDaemon)
    }

    /// docs/FUSE.md lists the same known differences, row by row.
    @Test func knownDifferencesAreDocumented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/FUSE.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let section = try #require(text.components(separatedBy: "\n## Conformance\n").last)
        // Rows read "| `CHECK` | root, user | ...".
        var documented: Set<String> = []
        for row in section.split(separator: "\n") where row.hasPrefix("| `") {
            let columns = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard columns.count > 2 else { continue }
            let check = columns[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            for daemon in columns[1].components(separatedBy: ", ") { documented.insert("\(check) (\(daemon))") }
        }
        let known = Set(KnownConformanceDifferences.rootDaemon.keys.map { "\($0) (root)" }
            + KnownConformanceDifferences.ordinaryUserDaemon.keys.map { "\($0) (user)" })
        #expect(known.subtracting(documented).sorted() == [], "known differences without a row in docs/FUSE.md")
        #expect(documented.subtracting(known).sorted() == [], "rows in docs/FUSE.md that are not known differences")
    }
}

/// One run of klfs-conformance over a directory: each check's result line.
struct ConformanceRun {
    static let checker = klfsBinary.deletingLastPathComponent().appendingPathComponent("klfs-conformance")

    /// Check names in the order the checker runs them.
    let names: [String]
    /// Each check's observations (the line after "NAME: ").
    let results: [String: String]

    /// Runs every check in `directory`, as root or as the ordinary user.
    /// With KLFS_CONFORMANCE_OUTPUT naming a directory, the output is kept
    /// there as LABEL.txt (for a diff by hand, or a closing note).
    init(in directory: String, asOrdinaryUser: Bool, label: String) throws {
        let output = asOrdinaryUser
            ? try OrdinaryUser.run(Self.checker, [directory])
            : try runCommand(Self.checker, [directory])
        try #require(output.status == 0, "klfs-conformance \(directory): \(output.standardError)")
        if let keep = ProcessInfo.processInfo.environment["KLFS_CONFORMANCE_OUTPUT"] {
            try output.standardOutput.write(toFile: keep + "/" + label + ".txt", atomically: true, encoding: .utf8)
        }
        var names: [String] = [], results: [String: String] = [:]
        for line in output.standardOutput.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            try #require(parts.count == 2, "unreadable line: \(line)")
            names.append(String(parts[0]))
            results[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        let expected = try runCommand(Self.checker, ["--list"]).standardOutput.split(separator: "\n").map(String.init)
        try #require(names == expected, "the run over \(directory) stopped early or skipped checks")
        self.names = names
        self.results = results
    }

    /// The run on a fresh directory in /dev/shm (tmpfs), removed after.
    static func onTmpfs(asOrdinaryUser: Bool, label: String) throws -> ConformanceRun {
        let directory = "/dev/shm/klfs-conformance-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tmpfsMounts = procFile("/proc/self/mountinfo").split(separator: "\n")
            .filter { $0.contains(" - tmpfs ") }.map { $0.split(separator: " ")[4] }
        try #require(tmpfsMounts.contains("/dev/shm"), "/dev/shm is not a tmpfs here")
        if asOrdinaryUser { try OrdinaryUser.take(directory) }
        return try ConformanceRun(in: directory, asOrdinaryUser: asOrdinaryUser, label: label)
    }

    /// Records an issue for each check whose results differ and that
    /// `known` does not list, and for each listed check that now agrees.
    static func expectSame(_ tmpfs: ConformanceRun, _ klfs: ConformanceRun, except known: [String: String]) {
        let differing = tmpfs.names.filter { tmpfs.results[$0] != klfs.results[$0] }
        for name in differing where known[name] == nil {
            Issue.record("\(name) differs:\n  tmpfs: \(tmpfs.results[name] ?? "-")\n  klfs:  \(klfs.results[name] ?? "-")")
        }
        for name in known.keys.sorted() where !differing.contains(name) {
            Issue.record("\(name) now agrees with tmpfs (\(tmpfs.results[name] ?? "no such check")): remove it from KnownConformanceDifferences and docs/FUSE.md")
        }
    }
}

/// Checks whose result on klfs differs from tmpfs's today, each with why:
/// one line per check. Delete the line (and its row in docs/FUSE.md,
/// "Conformance") once klfs agrees; the test fails on a listed check that
/// no longer differs, so the list cannot go stale.
enum KnownConformanceDifferences {
    /// Whoever the daemon runs as.
    static let eitherDaemon: [String: String] = [
        "special.symlink.target-4095-bytes": symlinkTargetLimit,
        "special.o-tmpfile": noTemporaryFiles,
    ]

    static let rootDaemon: [String: String] = eitherDaemon.merging([
        "modes.setid.other-write-02666": setgidWithoutGroupExecute,
        "modes.setid.other-truncate-02666": setgidWithoutGroupExecute,
    ]) { either, _ in either }

    static let ordinaryUserDaemon: [String: String] = eitherDaemon.merging([
        "errors.eacces.search-0666-dir": cachedEntryUnderUnsearchable,
    ]) { either, _ in either }

    static let setgidWithoutGroupExecute = "a writer outside the file's group drops S_ISGID without group execute on tmpfs (kernel 6.2+); the kernel's FUSE setattr (fuse_setattr, asked to kill set-ID bits) drops it only with group execute, and klfs does not take this over (FUSE_CAP_HANDLE_KILLPRIV_V2)"
    static let symlinkTargetLimit = "an encrypted target (padded, encrypted, base64-encoded) must fit the backing filesystem's 4095-byte limit: 3039 bytes of plaintext at most"
    static let noTemporaryFiles = "libfuse 3.14 has no tmpfile operation: it answers the kernel's FUSE_TMPFILE with ENOSYS, which the kernel turns into EOPNOTSUPP"
    static let cachedEntryUnderUnsearchable = "without default_permissions (a non-root daemon's mount) the kernel checks no search permission on a path walk and resolves a name it still caches (the entry timeout) under a readable but unsearchable directory without asking the daemon, whose own lookup there would be refused"
}
