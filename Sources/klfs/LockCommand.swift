import ArgumentParser

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Drop a mount's keys; requests that need one fail with EKEYREVOKED until 'klfs resume'.",
        discussion: "Wipes as 'klfs suspend' does, but nothing waits: reads, writes and listings fail at once."
    )

    @Argument(help: "Where the volume is mounted.")
    var mountPoint: String

    func run() throws {
        try reportingFailures { try ControlClient.perform(.lock, on: mountPoint) }
    }
}
