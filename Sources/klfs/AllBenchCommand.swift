import ArgumentParser
import Foundation
import Glibc

/// `klfs bench` (or `klfs bench all`): the engine benchmark, then
/// bench/compare (klfs mounted against gocryptfs, passthrough_ll and
/// tmpfs), one progress line per step on stderr.
struct AllBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "The engine benchmark, then bench/compare: klfs against gocryptfs, passthrough_ll and tmpfs (root)."
    )

    @Flag(help: "Small sizes and one round: a smoke test of a few minutes.")
    var quick = false

    @Option(help: "bench/compare (default: $KLFS_COMPARE, else found next to the klfs binary or the current directory).")
    var compareScript: String?

    func run() throws {
        try reportingFailures {
            let script = try locateCompareScript()
            printError("bench: step 1/2: engine throughput (klfs bench engine)")
            let engine = try EngineBenchCommand.parse(quick ? ["--rounds", "1", "--seconds", "0.1"] : [])
            try engine.run()
            // The engine table may sit in stdout's buffer; the script writes to the same
            // descriptor (fflush(NULL) flushes every stream).
            fflush(nil)
            printError("bench: step 2/2: filesystems side by side (\(script))")
            let status = try runCompare(script)
            guard status == 0 else {
                throw CommandFailure(.internalError, "bench/compare exited with status \(status)")
            }
        }
    }

    /// Runs the script with this very binary as the klfs under test.
    private func runCompare(_ script: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = ["--klfs", executablePath] + (quick ? ["--quick"] : [])
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private func locateCompareScript() throws(CommandFailure) -> String {
        if let given = compareScript ?? ProcessInfo.processInfo.environment["KLFS_COMPARE"] {
            return given
        }
        var directory = URL(fileURLWithPath: executablePath).deletingLastPathComponent()
        let starts = [directory, URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        for start in starts {
            directory = start
            while directory.path != "/" {
                let candidate = directory.appendingPathComponent("bench/compare").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw CommandFailure(.usage, "cannot find bench/compare: pass --compare-script PATH or set KLFS_COMPARE")
    }
}
