import ArgumentParser
import Foundation
import KLEngine

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput.",
        subcommands: [AllBenchCommand.self, EngineBenchCommand.self, LifecycleBenchCommand.self, ImageBenchCommand.self],
        defaultSubcommand: AllBenchCommand.self
    )
}

struct EngineBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "MB/s of each engine against OpenSSL's AES-256-XTS, measured in one run."
    )

    @OptionGroup var emulation: EmulationOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Seconds per sample.")
    var seconds: Double = 0.3

    @Option(help: "Rounds per case; the median counts.")
    var rounds: Int = 3

    @Option(help: "Thread counts to measure, comma-separated (default: 1 and all cores).")
    var threads: String?

    @Option(help: ArgumentHelp("The XTS kernel of the aesni and keylocker-soft rows: aesni-xmm, vaes-256 or vaes-512 (default auto: one row each for every kernel, those this CPU lacks shown unavailable).",
                               valueName: "kernel"))
    var xtsKernel: XTSKernel = .auto

    func validate() throws {
        guard seconds > 0 && seconds <= 60 else { throw ValidationError("--seconds must be in (0, 60]") }
        guard (1...99).contains(rounds) else { throw ValidationError("--rounds must be 1 to 99") }
        if let threads, parsedThreads(threads) == nil {
            throw ValidationError("--threads takes positive integers separated by commas")
        }
    }

    func run() throws {
        try reportingFailures {
            try emulation.apply()
            var configuration = EngineBenchmark.Configuration()
            configuration.secondsPerSample = seconds
            configuration.rounds = rounds
            if let threads { configuration.threadCounts = parsedThreads(threads)! }
            if xtsKernel != .auto {
                // A kernel named is one the user wants timed: refuse one
                // this CPU cannot run rather than print a table without it.
                configuration.xtsKernels = [try CPUFeatures.detect().resolve(xtsKernel)]
            }
            let report = try EngineBenchmark(configuration: configuration).run { step in
                if !json { printError("bench: \(step)") }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(EngineBenchmarkTable(report: report).text)
            }
        }
    }

    private func parsedThreads(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.map { $0! }
    }
}
