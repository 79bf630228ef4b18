import ArgumentParser
import Foundation
import KLBlock
import KLEngine

/// `klfs bench lifecycle`: what a suspend/resume, a lock and an IWKey
/// loss cost a mounted volume under a steady load (docs/BENCH.md).
struct LifecycleBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifecycle",
        abstract: "Time suspend, lock, IWKey loss and resume on a scratch mount under load, and count the requests they hold up (root).",
        discussion: """
            Makes a volume in a temporary directory (a fixed demo passphrase, the Argon2id floor), mounts it, \
            runs --threads threads of 4 KiB pread/pwrite on files of their own, and per round takes the keys away \
            four ways: suspend then resume with the passphrase, suspend then resume with the master key, lock, \
            and an IWKey replaced under the mount (keylocker-soft; keylocker with --emulate-keylocker). At the \
            end every file is read back against the writers' model: exit status 40 if a byte differs. The mount \
            and the directory are removed on every exit, SIGINT included.
            """
    )

    @Option(help: "The engine the daemon runs: keylocker-soft, aesni, keylocker (with --emulate-keylocker on a CPU without Key Locker) or auto.")
    var engine: EngineChoice = .keylockerSoft

    @Option(help: ArgumentHelp("The daemon's XTS kernel (aesni and keylocker-soft): aesni-xmm, vaes-256 or vaes-512; default auto.",
                               valueName: "kernel"))
    var xtsKernel: XTSKernel?

    @OptionGroup var emulation: EmulationOptions

    @Option(help: "Load threads, each on a file of its own.")
    var threads: Int = 4

    @Option(help: "Rounds; each measures every cycle once.")
    var rounds: Int = 10

    @Option(help: "Milliseconds the keys stay away once the load shows it, and the load then runs unlocked.")
    var holdMs: Int = 20

    @Flag(help: "Print JSON instead of a table (docs/BENCH.md gives the keys).")
    var json = false

    func validate() throws {
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1 to 64") }
        guard (1...999).contains(rounds) else { throw ValidationError("--rounds must be 1 to 999") }
        guard (0...10_000).contains(holdMs) else { throw ValidationError("--hold-ms must be 0 to 10000") }
    }

    func run() throws {
        try reportingFailures {
            let scratch = try ScratchMount()
            defer { scratch.tearDown() }
            let masterKey = try scratch.createVolume()
            // The master key dies when the run ends, on every path.
            defer { masterKey.wipe() }
            let passphrase = try ScratchMount.demoPassphraseBytes()
            // This copy of the passphrase, sent with every passphrase
            // resume, dies when the run ends, on every path.
            defer { passphrase.wipe() }
            try scratch.mount(arguments: daemonArguments)
            // Installed once the daemon runs, which must not inherit the
            // ignored signals.
            let interrupt = InterruptCleanup { scratch.tearDown() }
            let report = try withExtendedLifetime(interrupt) {
                try measure(on: scratch, passphrase: passphrase, masterKey: masterKey)
            }
            print(json ? Self.jsonText(report) : LifecycleBenchTable(report: report).text)
            guard report.integrity.ok else {
                throw CommandFailure(.problemsFound, "the load did not read back what it wrote")
            }
        }
    }

    private var daemonArguments: [String] {
        ["--engine", engine.rawValue] + (xtsKernel.map { ["--xts-kernel", $0.rawValue] } ?? [])
            + (emulation.emulateKeyLocker ? ["--emulate-keylocker"] : [])
    }

    private func measure(on scratch: ScratchMount, passphrase: SecretBytes,
                         masterKey: SecretBytes) throws -> LifecycleBenchReport {
        let mount = try MountTable().klfsMount(at: scratch.mountPoint)
        let load = try LifecycleLoad(threads: threads, in: scratch.mountPoint)
        load.start()
        let runner = LifecycleCycleRunner(mount: mount, load: load, passphrase: passphrase, masterKey: masterKey,
                                          holdNanoseconds: UInt64(holdMs) * 1_000_000)
        var timelines: [CycleTimeline] = []
        var unsupported: [LifecycleCycleKind: String] = [:]
        for round in 1...rounds {
            if !json { printError("bench: lifecycle round \(round)/\(rounds)") }
            for kind in LifecycleCycleKind.allCases where unsupported[kind] == nil {
                if let timeline = try runner.run(kind) {
                    timelines.append(timeline)
                } else {
                    unsupported[kind] = "the \(engine.rawValue) engine cannot replace its IWKey here"
                }
            }
        }
        let status = try ControlClient.require(try ControlClient.send(.status, to: mount)).status
        guard load.stop() else { throw CommandFailure(.internalError, "the load threads did not stop") }
        let differing = load.workers.reduce(0) { $0 + $1.blocksDifferingFromModel().count }
        let kdf = Argon2idCost.floor
        var report = LifecycleBenchReport(
            engine: status?.engine ?? engine.rawValue, xtsKernel: status?.xtsKernel,
            emulated: emulation.emulateKeyLocker, threads: threads, rounds: rounds, holdMilliseconds: holdMs,
            kdfOpslimit: kdf.opslimit, kdfMemoryMiB: kdf.memlimit >> 20, kdfMicros: nil,
            cycles: Self.cycleReports(timelines, unsupported: unsupported, requests: load.requests),
            loadIWKey: emulation.emulateKeyLocker ? try LoadIWKeyReport.measure(rounds: rounds) : nil,
            requests: Self.counts(load.requests),
            steadyRequestMicros: Self.steadyLatency(load.requests, outside: timelines),
            integrity: Self.integrity(load, differingBlocks: differing))
        report.kdfMicros = Self.kdfShare(report.cycles)
        return report
    }

    private static func cycleReports(_ timelines: [CycleTimeline], unsupported: [LifecycleCycleKind: String],
                                     requests: [LoadRequest]) -> [LifecycleBenchReport.CycleReport] {
        let during = timelines.map { $0.overlapping(requests) }
        return LifecycleCycleKind.allCases.map { kind in
            let measured = zip(timelines, during).filter { $0.0.kind == kind }
            var metrics: [LifecycleMetric: Distribution] = [:]
            for metric in LifecycleMetric.allCases where metric.applies(to: kind) {
                metrics[metric] = Distribution(measured.map { metric.value(of: $0.0, during: $0.1) })
            }
            return .init(kind: kind, rounds: measured.count, unsupported: unsupported[kind], metrics: metrics)
        }
    }

    /// What the passphrase's KDF adds to a resume, when both resumes ran.
    private static func kdfShare(_ cycles: [LifecycleBenchReport.CycleReport]) -> Double? {
        let resume = { (kind: LifecycleCycleKind) in
            cycles.first { $0.kind == kind }?.metrics[.resumeMicros]?.median
        }
        guard let withPassphrase = resume(.suspendPassphrase), let withKey = resume(.suspendMasterKey) else { return nil }
        return withPassphrase - withKey
    }

    private static func counts(_ requests: [LoadRequest]) -> LifecycleBenchReport.RequestCounts {
        .init(done: requests.count(where: { $0.outcome == .done }), refused: requests.count(where: { $0.outcome == .revoked }),
              failed: requests.count(where: { $0.outcome == .failed }))
    }

    private static func steadyLatency(_ requests: [LoadRequest], outside cycles: [CycleTimeline]) -> Distribution? {
        let steady = requests.filter { request in
            request.outcome == .done && !cycles.contains { request.end >= $0.withdrawSent && request.start <= $0.settled }
        }
        return Distribution(steady.map { Double($0.latency) / 1000 })
    }

    private static func integrity(_ load: LifecycleLoad, differingBlocks: Int) -> LifecycleBenchReport.IntegrityReport {
        let problems = load.problems
        return .init(ok: problems.isEmpty && differingBlocks == 0, files: load.workers.count,
                     bytes: load.workers.count * LoadWorker.blockSize * LoadWorker.blockCount,
                     differingBlocks: differingBlocks, problems: Array(problems.prefix(20)))
    }

    private static func jsonText(_ report: LifecycleBenchReport) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self)
    }
}
