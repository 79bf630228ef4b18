import ArgumentParser
import Foundation
import Glibc

/// `klfs bench` (or `klfs bench all`): the engine benchmark, then
/// bench/compare (klfs mounted against gocryptfs, passthrough_ll and
/// tmpfs), then bench/image (image mode against the raw image), one
/// progress line per step on stderr.
struct AllBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "The engine benchmark, bench/compare (klfs against gocryptfs, passthrough_ll and tmpfs), then bench/image (root)."
    )

    @Flag(help: "Small sizes and one round: a smoke test of a few minutes.")
    var quick = false

    @Option(help: "bench/compare (default: $KLFS_COMPARE, else found next to the klfs binary or the current directory).")
    var compareScript: String?

    @Option(help: "bench/image (default: $KLFS_BENCH_IMAGE, else found as bench/compare is).")
    var imageScript: String?

    func run() throws {
        try reportingFailures {
            // Both found before anything runs, so a missing one fails at once.
            let scripts = [try BenchScript(.compare, given: compareScript), try BenchScript(.image, given: imageScript)]
            printError("bench: step 1/3: engine throughput (klfs bench engine)")
            let engine = try EngineBenchCommand.parse(quick ? ["--rounds", "1", "--seconds", "0.1"] : [])
            try engine.run()
            // The engine table may sit in stdout's buffer; the script writes to the same
            // descriptor (fflush(NULL) flushes every stream).
            fflush(nil)
            let titles = ["filesystems side by side", "image mode against the raw image"]
            for (index, (script, title)) in zip(scripts, titles).enumerated() {
                printError("bench: step \(index + 2)/3: \(title) (\(script.path))")
                let status = try script.run(quick ? ["--quick"] : [])
                guard status == 0 else {
                    throw CommandFailure(.internalError, "\(script.path) exited with status \(status)")
                }
            }
        }
    }
}
