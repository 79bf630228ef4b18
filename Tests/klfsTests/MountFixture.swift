import Foundation
import Glibc
import KLBlock
import KLEngine
import Testing

/// A fresh volume in a temporary directory (Argon2id at the floor, so
/// unlocking is fast) and a mount point next to it. Tests mount it
/// through the real `klfs` binary.
final class VolumeFixture {
    let directory: URL
    let cipherDir: String
    let mountPoint: String
    let passfile: String
    static let passphrase = "correct horse battery staple"
    /// The raw 64-byte master key (K1 || K2); tests never print it.
    let masterKey: [UInt8]
    /// init's text form of the key, for `mount --masterkey`.
    let masterKeyFile: String

    /// `plaintextNames` makes the volume with `init --plaintext-names`;
    /// `parent` is where its directory goes (a tmpfs, for what ext4 cannot
    /// hold, such as 64 KiB extended attribute values).
    convenience init(sectorSize: SectorSize = .default, plaintextNames: Bool = false,
                     parent: String = NSTemporaryDirectory()) throws {
        try self.init(parent: parent) { cipherDir, passfile in
            let floor = Argon2idCost.floor
            let result = try runKLFS(["init", cipherDir, "--passfile", passfile, "--sector-size", "\(sectorSize.bytes)",
                                      "--kdf-ops", "\(floor.opslimit)", "--kdf-memory-mib", "\(floor.memlimit >> 20)"]
                                     + (plaintextNames ? ["--plaintext-names"] : []))
            try #require(result.status == 0, "init failed: \(result.standardError)")
            // The key is the hex block between these two lines of init's
            // output; it is kept here and in masterKeyFile, never printed.
            let lines = result.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
            // Plain guards: a failing #require would print `lines`, key included.
            guard let start = lines.firstIndex(where: { $0.hasPrefix("Your master key is:") }),
                  let end = lines.firstIndex(where: { $0.hasPrefix("Keep it on paper") }), start < end else {
                throw FixtureError.noMasterKeyInInitOutput
            }
            return lines[(start + 1)..<end].joined(separator: "\n")
        }
    }

    /// A volume made earlier and kept as a tar archive of its cipher dir
    /// (made with `tar --xattrs --sparse -cf ARCHIVE cipher`, with
    /// ``passphrase``), whose master key's text is `masterKeyText`.
    convenience init(extracting archive: URL, masterKeyText: String) throws {
        try self.init(parent: NSTemporaryDirectory()) { cipherDir, _ in
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/bin/tar")
            tar.arguments = ["--xattrs", "-xf", archive.path, "-C", URL(fileURLWithPath: cipherDir).deletingLastPathComponent().path]
            try tar.run()
            tar.waitUntilExit()
            try #require(tar.terminationStatus == 0, "tar could not extract \(archive.path)")
            return masterKeyText
        }
    }

    /// Makes the directories (in `parent`) and the passfile, then the
    /// cipher dir with `makeCipherDir` (given its path and the passfile),
    /// which returns the master key's text.
    private init(parent: String, makeCipherDir: (String, String) throws -> String) throws {
        directory = URL(fileURLWithPath: parent)
            .appendingPathComponent("klfs-mount-\(UUID().uuidString.prefix(8))")
        cipherDir = directory.appendingPathComponent("cipher").path
        mountPoint = directory.appendingPathComponent("plain").path
        passfile = directory.appendingPathComponent("passfile").path
        masterKeyFile = directory.appendingPathComponent("masterkey").path
        for path in [cipherDir, mountPoint] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        try (Self.passphrase + "\n").write(toFile: passfile, atomically: true, encoding: .utf8)
        let text = try makeCipherDir(cipherDir, passfile)
        try Data(text.utf8).write(to: URL(fileURLWithPath: masterKeyFile))
        masterKey = try MasterKeyText.parse(try Self.secret(Array(text.utf8))).withUnsafeBytes { Array($0) }
    }

    static func secret(_ bytes: [UInt8]) throws -> SecretBytes {
        try bytes.withUnsafeBytes { try SecretBytes(copying: $0) }
    }

    /// Runs `klfs mount` (daemon mode) with the passfile; `extra` comes last.
    @discardableResult
    func mount(_ extra: [String] = [], engine: String = "keylocker-soft") throws -> CommandResult {
        try runKLFS(["mount", cipherDir, mountPoint, "--passfile", passfile, "--engine", engine] + extra)
    }

    func requireMount(_ extra: [String] = [], engine: String = "keylocker-soft") throws {
        let result = try mount(extra, engine: engine)
        try #require(result.status == 0, "mount failed: \(result.standardError)")
    }

    var isMounted: Bool { mountedPaths().contains(mountPoint) }

    /// `klfs unmount`, then the fallbacks, so a failing test never leaves
    /// a mount (or a daemon) behind.
    func unmount() {
        guard isMounted else { return }
        let daemon = daemonPID()
        if (try? runKLFS(["unmount", mountPoint]))?.status == 0 {
            waitForExit(daemon)
            return
        }
        let lazy = Process()
        lazy.executableURL = URL(fileURLWithPath: "/usr/bin/fusermount3")
        lazy.arguments = ["-u", "-z", mountPoint]
        try? lazy.run()
        lazy.waitUntilExit()
        if let daemon { kill(daemon, SIGKILL) }
    }

    func daemonPID() -> pid_t? { klfsDaemon(serving: mountPoint) }

    func waitForExit(_ pid: pid_t?) { waitForDaemonExit(pid) }

    func path(_ name: String) -> String { mountPoint + "/" + name }
    func backingPath(_ name: String) -> String { cipherDir + "/" + name }

    /// The backing file of the mounted file `name`, whatever its backing
    /// name: the one whose inode number the mount reports (st_ino is the
    /// backing file's).
    func backingPath(ofMounted name: String) throws -> String {
        var st = stat()
        guard lstat(path(name), &st) == 0 else { throw FixtureError.noBackingFile(name) }
        let walker = FileManager.default.enumerator(atPath: cipherDir)
        while let relative = walker?.nextObject() as? String {
            var candidate = stat()
            if lstat(backingPath(relative), &candidate) == 0 && candidate.st_ino == st.st_ino {
                return backingPath(relative)
            }
        }
        throw FixtureError.noBackingFile(name)
    }

    deinit {
        unmount()
        try? FileManager.default.removeItem(at: directory)
    }
}

enum FixtureError: Error {
    case noMasterKeyInInitOutput
    case noBackingFile(String)
}

/// The daemon serving a mount: the klfs process whose command line names
/// the mount point.
func klfsDaemon(serving mountPoint: String) -> pid_t? {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries {
        guard let pid = pid_t(entry), pid != getpid(),
              let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        if arguments.first?.hasSuffix("klfs") == true && arguments.contains(mountPoint) { return pid }
    }
    return nil
}

/// The daemon exits once the kernel ends the session; give it a moment.
func waitForDaemonExit(_ pid: pid_t?) {
    guard let pid else { return }
    for _ in 0..<300 where kill(pid, 0) == 0 { usleep(10_000) }
}

func mountedPaths() -> Set<String> {
    let text = procFile("/proc/self/mountinfo")
    return Set(text.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        return fields.count > 4 ? String(fields[4]) : nil
    })
}

/// Mounts a fresh volume, runs `body`, and always unmounts.
func withMountedVolume(engine: String = "keylocker-soft", sectorSize: SectorSize = .default,
                       plaintextNames: Bool = false, mountArguments: [String] = [],
                       _ body: (VolumeFixture) throws -> Void) throws {
    let volume = try VolumeFixture(sectorSize: sectorSize, plaintextNames: plaintextNames)
    defer { volume.unmount() }
    try volume.requireMount(mountArguments, engine: engine)
    try body(volume)
}

/// What each of `pid`'s descriptors is open on, as /proc/PID/fd shows it
/// (a deleted file's path ends in " (deleted)").
func descriptorTargets(of pid: pid_t) -> [String] {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
    return fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
}

/// The whole of a /proc file. String(contentsOfFile:) and Data(contentsOf:)
/// stop after the first read, which for seq_file files (mountinfo, maps) is
/// one page: every line after the first 4 KiB would be missing.
func procFile(_ path: String) -> String {
    let data = (try? FileHandle(forReadingAtPath: path)?.readToEnd()) ?? nil
    return String(decoding: data ?? Data(), as: UTF8.self)
}

extension VolumeFixture {
    /// Mounts in the foreground (`-f`) with the daemon's stderr, where it
    /// logs, going to `log`; returns the daemon once the mount is ready.
    func mountInForeground(logTo log: URL, extraArguments: [String] = []) throws -> Process {
        try #require(FileManager.default.createFile(atPath: log.path, contents: nil))
        let process = Process()
        process.executableURL = klfsBinary
        process.arguments = ["mount", "-f", cipherDir, mountPoint, "--passfile", passfile] + extraArguments
        process.environment = ["SWIFT_BACKTRACE": "enable=no"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        for _ in 0..<500 where !isMounted { usleep(10_000) }
        try #require(isMounted)
        return process
    }
}
