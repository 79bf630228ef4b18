import Foundation
import Glibc
import KLBlock
import KLEngine

/// The throwaway volume `klfs bench lifecycle` measures: made in a fresh
/// temporary directory with a fixed demo passphrase and the Argon2id floor
/// (so that a resume's KDF stays short), and mounted by a foreground
/// daemon, this very binary's `klfs mount -f`, whose log stays in the
/// directory until ``tearDown()``. Tear-down runs once, whichever comes
/// first: the end of the run, a failure or SIGINT.
final class ScratchMount: @unchecked Sendable {
    /// Public on purpose: the volume holds nothing but the load's bytes.
    static let demoPassphrase: StaticString = "klfs bench lifecycle demo passphrase"

    let directory: String
    var cipherDir: String { directory + "/cipher" }
    var mountPoint: String { directory + "/plain" }
    private var passfile: String { directory + "/passfile" }
    private var log: String { directory + "/daemon.log" }

    private let lock = NSLock()
    private var daemon: Process?
    private var tornDown = false

    init() throws(CommandFailure) {
        // Resolved, as mountinfo shows the mount point (TMPDIR may end in
        // "/" or be a symbolic link).
        var template = Array((NSTemporaryDirectory() + "/klfs-bench-lifecycle-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template), let resolved = realpath(made, nil) else {
            throw CommandFailure(.cipherDirUnusable, "cannot make a temporary directory: \(String(cString: strerror(errno)))")
        }
        defer { free(resolved) }
        directory = String(cString: resolved)
        for path in [cipherDir, mountPoint] where mkdir(path, 0o700) != 0 {
            throw CommandFailure(.cipherDirUnusable, "cannot make \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// A copy of the demo passphrase in secret memory; the caller wipes it.
    static func demoPassphraseBytes() throws(EngineError) -> SecretBytes {
        try SecretBytes(copying: UnsafeRawBufferPointer(start: demoPassphrase.utf8Start,
                                                        count: demoPassphrase.utf8CodeUnitCount))
    }

    /// Makes the volume (and the passfile the daemon reads) and returns its
    /// master key, for the resumes that skip the KDF; the caller wipes it.
    func createVolume() throws -> SecretBytes {
        try writePassfile()
        // Volume.create wipes this copy of the passphrase.
        let creation = try Volume.create(cipherDir: cipherDir, passphrase: try Self.demoPassphraseBytes(),
                                         kdf: .floor, flags: [VolumeConfig.encryptedNamesFlag])
        // The master key's text dies here, once parsed into the key.
        defer { creation.masterKeyText.wipe() }
        return try MasterKeyText.parse(creation.masterKeyText)
    }

    private func writePassfile() throws(CommandFailure) {
        let fd = open(passfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CommandFailure(.cipherDirUnusable, "cannot write \(passfile): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let written = Self.demoPassphrase.withUTF8Buffer { write(fd, $0.baseAddress, $0.count) } + write(fd, "\n", 1)
        guard written == Self.demoPassphrase.utf8CodeUnitCount + 1 else {
            throw CommandFailure(.cipherDirUnusable, "cannot write \(passfile)")
        }
    }

    /// Starts the daemon and returns once the mount is in mountinfo.
    func mount(arguments: [String]) throws(CommandFailure) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath)
        process.arguments = ["mount", "-f", cipherDir, mountPoint, "--passfile", passfile] + arguments
        var environment = ProcessInfo.processInfo.environment
        // The emulator's SIGILL handler must not meet Swift's backtracer.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        do {
            guard FileManager.default.createFile(atPath: log, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            try lock.withLock { () throws in
                guard !tornDown else { throw CocoaError(.userCancelled) }
                try process.run()
                daemon = process
            }
        } catch {
            throw CommandFailure(.mountFailed, "cannot start the daemon: \(error)")
        }
        try waitUntilMounted(process)
    }

    private func waitUntilMounted(_ process: Process) throws(CommandFailure) {
        let deadline = MonotonicClock.nanoseconds() + 30_000_000_000
        while !isMounted {
            guard process.isRunning, MonotonicClock.nanoseconds() < deadline else {
                // The daemon's own status says why (an engine this CPU
                // lacks is 20), when it has exited.
                let status = process.isRunning ? nil : ExitStatus(rawValue: process.terminationStatus).flatMap { $0 == .success ? nil : $0 }
                throw CommandFailure(status ?? .mountFailed, "the daemon did not mount \(mountPoint); its log:\n\(daemonLog)")
            }
            usleep(10_000)
        }
    }

    var isMounted: Bool { MountTable().mount(at: mountPoint)?.type == MountTable.klfsType }

    /// The daemon's stderr so far, for a failure's message.
    var daemonLog: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Unmounts (lazily when the load still holds files open, as after a
    /// SIGINT), ends the daemon, which also ends requests waiting in a
    /// suspended mount, and removes the directory. Safe from any thread;
    /// only the first call does anything.
    func tearDown() {
        let daemon: Process? = lock.withLock {
            guard !tornDown else { return nil }
            tornDown = true
            return self.daemon
        }
        var detached = true
        if isMounted {
            do throws(CommandFailure) {
                try UnmountTarget.unmount(mountPoint, lazy: false)
            } catch {
                try? UnmountTarget.unmount(mountPoint, lazy: true)
                detached = false
            }
        }
        if let daemon { end(daemon, sessionEnded: detached) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The daemon exits by itself once its session has ended; SIGTERM (at
    /// once when the load still holds the lazily detached mount open),
    /// then SIGKILL, if it does not.
    private func end(_ daemon: Process, sessionEnded: Bool) {
        for signal in sessionEnded ? [0, SIGTERM, SIGKILL] : [SIGTERM, SIGKILL] {
            if signal != 0 && daemon.isRunning { kill(daemon.processIdentifier, signal) }
            for _ in 0..<500 where daemon.isRunning { usleep(10_000) }
        }
    }
}
