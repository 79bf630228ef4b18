import ArgumentParser
import KLEngine

struct CPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu",
        abstract: "Report AES and Key Locker support and the engine 'auto' picks."
    )

    @OptionGroup var emulation: EmulationOptions

    func run() throws {
        try reportingFailures {
            try emulation.apply()
            for line in CPUReport().lines { print(line) }
        }
    }
}
