import Foundation
import Testing

/// The klfs binary SwiftPM built next to this test bundle.
let klfsBinary: URL = {
    var directory = Bundle.main.bundleURL
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("klfs").path),
          directory.path != "/" {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent("klfs")
}()

struct CommandResult {
    let status: Int32
    let standardOutput: String
    let standardError: String
}

/// Runs klfs with `arguments`, feeding `input` to its standard input.
func runKLFS(_ arguments: [String], input: String = "", environment: [String: String] = [:]) throws -> CommandResult {
    try runCommand(klfsBinary, arguments, input: input, environment: environment)
}

/// Runs `executable` with `arguments` (and SWIFT_BACKTRACE=enable=no),
/// feeding `input` to its standard input.
func runCommand(_ executable: URL, _ arguments: [String], input: String = "",
                environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    for (name, value) in environment { env[name] = value }
    process.environment = env
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus,
                         standardOutput: String(decoding: out, as: UTF8.self),
                         standardError: String(decoding: err, as: UTF8.self))
}

@Suite struct CPUCommandTests {
    @Test func cpuReportEndsWithTheAutoEngineAndWhy() throws {
        let result = try runKLFS(["cpu"])
        #expect(result.status == 0, "\(result.standardError)")
        let last = result.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
        // This test process may emulate Key Locker by now; the klfs process
        // does not, so judge its decision by its own Key Locker line.
        let keyLockerReady = result.standardOutput.contains("Key Locker:     present, enabled by the kernel and wide")
        let expected = keyLockerReady ? "keylocker" : "keylocker-soft"
        #expect(last.hasPrefix("Engine auto:    \(expected), because Key Locker is "))
    }

    @Test func emulatedCPUReportsKeyLockerAndPicksIt() throws {
        let result = try runKLFS(["cpu", "--emulate-keylocker"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("Key Locker:     present, enabled by the kernel and wide (AESKLE=1, WIDE_KL=1), emulated by klfs"))
        #expect(result.standardOutput.contains("Engine auto:    keylocker, because Key Locker is emulated"))
    }
}

@Suite struct EngineBenchCommandTests {
    struct Report: Decodable {
        struct Row: Decodable {
            let engine, direction, status: String
            let xtsKernel: String?
            let sectorSize, requestSize, threads: Int
            let megabytesPerSecond: Double?
            let note: String?
        }
        let xtsKernel: String
        let xtsKernels: [String]
        let rows: [Row]
    }

    /// A tiny run: every peer appears in every case, the aesni and
    /// keylocker-soft engines once per XTS kernel, those this CPU runs
    /// measured and the others unavailable, and the emulated keylocker
    /// engine never reported as a speed.
    @Test func jsonReportCoversEveryPeerAndKernelAndNeverTimesTheEmulator() throws {
        let result = try runKLFS(["bench", "engine", "--json", "--emulate-keylocker",
                                  "--seconds", "0.02", "--rounds", "1", "--threads", "1"])
        #expect(result.status == 0, "\(result.standardError)")
        let report = try JSONDecoder().decode(Report.self, from: Data(result.standardOutput.utf8))
        #expect(Set(report.rows.map(\.engine)) == ["openssl", "openssl-speed", "aesni", "keylocker-soft", "keylocker"])
        // 1 MiB and 4 KiB requests, of 512- and 4096-byte sectors, both
        // directions; for each of openssl, openssl-speed, keylocker, and
        // aesni and keylocker-soft on each of the three kernels.
        #expect(report.rows.count == (3 + 2 * 3) * 2 * 2 * 2)
        #expect(Set(report.rows.map(\.requestSize)) == [1 << 20, 4096])
        #expect(report.xtsKernels.contains(report.xtsKernel))
        for row in report.rows where ["aesni", "keylocker-soft"].contains(row.engine) {
            let kernel = try #require(row.xtsKernel)
            if report.xtsKernels.contains(kernel) {
                #expect(row.status == "measured" && (row.megabytesPerSecond ?? 0) > 0, "\(row)")
            } else {
                #expect(row.status == "unavailable" && row.note?.contains("cannot run on this CPU") == true, "\(row)")
            }
        }
        for row in report.rows where row.engine == "openssl" {
            #expect(row.status == "measured" && (row.megabytesPerSecond ?? 0) > 0 && row.xtsKernel == nil, "\(row)")
        }
        for row in report.rows where row.engine == "keylocker" {
            #expect(row.status == "emulated" && row.megabytesPerSecond == nil && row.xtsKernel == nil)
        }
    }
}
