import Foundation

/// This very binary, for the commands that run it again as a child (a
/// bench script's klfs under test, the lifecycle bench's daemon).
var executablePath: String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}
