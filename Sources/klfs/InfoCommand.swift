import ArgumentParser
import KLBlock

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a volume's klfs.conf without touching any secret."
    )

    @Argument(help: "The volume's cipher dir.")
    var cipherDir: String

    func run() throws {
        try reportingFailures {
            for line in try Volume.info(cipherDir: cipherDir).lines { print(line) }
        }
    }
}
