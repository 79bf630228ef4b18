import ArgumentParser
import Foundation
import Glibc
import KLBlock
import KLEngine

struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check a volume: klfs.conf, every backing file's header and size, and every sector.",
        discussion: """
            Only reads. Exits 0 when the volume is clean, 40 when it found damage, and with the \
            unlock codes (10-17) when klfs.conf is unusable or the passphrase or master key is wrong. \
            XTS has no integrity: docs/FSCK.md says what can and cannot be detected.
            """
    )

    @Argument(help: "The volume's cipher dir.")
    var cipherDir: String

    @OptionGroup var key: UnlockOptions

    @Option(help: "The engine that decrypts: auto, keylocker, keylocker-soft or aesni.")
    var engine: EngineChoice = .auto

    @OptionGroup var emulation: EmulationOptions

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    func run() throws {
        try reportingFailures {
            let report: CheckReport
            let configAuthenticated: Bool
            do {
                (report, configAuthenticated) = try check()
            } catch {
                let failure = commandFailure(error)
                if json { printJSON(FsckJSON(cipherDir: cipherDir, failure: failure)) }
                throw failure
            }
            let status: ExitStatus = report.isClean ? .success : .problemsFound
            if json {
                printJSON(FsckJSON(cipherDir: cipherDir, report: report, status: status,
                                   configAuthenticated: configAuthenticated))
            } else {
                printReport(report, configAuthenticated: configAuthenticated)
            }
            if status != .success { throw status.code }
        }
    }

    /// The report, and whether every field of klfs.conf was authenticated:
    /// always with a passphrase, with the master key from version 2 on
    /// (CONFIG.md, "Master key wrap and check value").
    private func check() throws -> (CheckReport, configAuthenticated: Bool) {
        let volume = try unlock()
        let configAuthenticated = key.masterkey == nil || volume.config.version >= 2
        let bar = ProgressBar.onTerminal()
        defer { bar?.finish() }
        do {
            let report = try VolumeCheck(cipherDir: cipherDir, volume: volume).run { progress in
                bar?.update(fraction: progress.fraction,
                            detail: "\(progress.filesDone)/\(progress.filesTotal) files  "
                                + "\(mebibytes(progress.bytesDone))/\(mebibytes(progress.bytesTotal)) MiB")
            }
            return (report, configAuthenticated)
        } catch {
            throw CommandFailure(.internalError, "the check stopped: \(error)")
        }
    }

    /// klfs.conf is checked before any secret is asked for, so a broken
    /// config is reported without a prompt.
    private func unlock() throws -> UnlockedVolume {
        try emulation.apply()
        _ = try VolumeCheck.loadConfig(cipherDir: cipherDir)
        let engine = try makeEngine(self.engine)
        return try (key.givenKey ?? .passphrase(.terminal)).unlock(cipherDir: cipherDir, engine: engine)
    }

    private func printReport(_ report: CheckReport, configAuthenticated: Bool) {
        for finding in report.findings { print(finding) }
        if !configAuthenticated {
            print("klfs.conf: notice: a version 1 volume unlocked with the master key, so the config's fields were not verified (a passphrase verifies them; version 2's check value does too)")
        }
        print(report.summary)
    }

    private func printJSON(_ output: FsckJSON) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Strings, integers and booleans always encode.
        print(String(decoding: try! encoder.encode(output), as: UTF8.self))
    }

    private func commandFailure(_ error: any Error) -> CommandFailure {
        switch error {
        case let failure as CommandFailure: return failure
        case let error as VolumeError: return CommandFailure(error)
        case let error as EngineError: return CommandFailure(error)
        default: return CommandFailure(.internalError, "\(error)")
        }
    }
}

private func mebibytes(_ bytes: Int) -> Int { bytes >> 20 }

/// `klfs fsck --json` (docs/FSCK.md). A failure before the check has only
/// the first four fields.
private struct FsckJSON: Encodable {
    let cipherDir: String
    /// "clean", "damaged" or "failed".
    let status: String
    let exitCode: Int32
    let message: String?
    /// The volume's format version (klfs.conf's `version`).
    let formatVersion: Int?
    /// Whether the AEAD tag over klfs.conf's fields was verified (only a
    /// passphrase can; a master key is checked against the check value).
    let configAuthenticated: Bool?
    let counts: CheckCounts?
    let findings: [CheckFinding]?

    init(cipherDir: String, failure: CommandFailure) {
        self.cipherDir = cipherDir
        status = "failed"
        exitCode = failure.status.rawValue
        message = failure.message
        formatVersion = nil
        configAuthenticated = nil
        counts = nil
        findings = nil
    }

    init(cipherDir: String, report: CheckReport, status: ExitStatus, configAuthenticated: Bool) {
        self.cipherDir = cipherDir
        self.status = report.isClean ? "clean" : "damaged"
        exitCode = status.rawValue
        message = nil
        formatVersion = report.formatVersion
        self.configAuthenticated = configAuthenticated
        counts = report.counts
        findings = report.findings
    }
}
