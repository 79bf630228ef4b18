import Foundation
import Glibc

/// A benchmark script of the repository's bench/ directory (compare,
/// image), which the `klfs bench` subcommands run with this very binary as
/// the klfs under test.
struct BenchScript {
    enum Name: String {
        case compare, image

        /// The option that names the script's path, and the variable that does.
        var option: String { "--\(rawValue)-script" }
        var environmentVariable: String { self == .compare ? "KLFS_COMPARE" : "KLFS_BENCH_IMAGE" }
    }

    let path: String

    /// `given` (the command's option), else the environment variable, else
    /// bench/NAME found upward from the binary's directory or the current
    /// directory: a build inside the repository finds its own scripts.
    init(_ script: Name, given: String?) throws(CommandFailure) {
        let name = script.rawValue
        if let given = given ?? ProcessInfo.processInfo.environment[script.environmentVariable] {
            path = given
            return
        }
        let starts = [URL(fileURLWithPath: executablePath).deletingLastPathComponent(),
                      URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        for start in starts {
            var directory = start
            while directory.path != "/" {
                let candidate = directory.appendingPathComponent("bench/" + name).path
                if FileManager.default.isExecutableFile(atPath: candidate) {
                    path = candidate
                    return
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw CommandFailure(.usage, "cannot find bench/\(name): pass \(script.option) PATH or set \(script.environmentVariable)")
    }

    /// Runs the script as a child with `--klfs` this binary; its exit status.
    func run(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--klfs", executablePath] + arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Replaces this process with the script (`--klfs` this binary), so that
    /// ^C and SIGTERM reach the script itself, which cleans up after them.
    func exec(_ arguments: [String]) throws(CommandFailure) -> Never {
        fflush(nil)
        let argv = [path, "--klfs", executablePath] + arguments
        var pointers = argv.map { strdup($0) }
        pointers.append(nil)
        execv(path, pointers)
        throw CommandFailure(.internalError, "cannot run \(path): \(String(cString: strerror(errno)))")
    }
}
