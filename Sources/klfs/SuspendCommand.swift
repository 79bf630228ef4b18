import ArgumentParser

struct SuspendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suspend",
        abstract: "Drop a mount's keys; requests that need one wait until 'klfs resume'.",
        discussion: """
            As cryptsetup luksSuspend: the Key Locker handles (and keylocker-soft's IWKey) are wiped, \
            open files and the mount stay, and requests that need no key (getattr of a known size, \
            cached pages) go on. The page cache keeps the plaintext it holds (docs/THREAT-MODEL.md).
            """
    )

    @Argument(help: "Where the volume is mounted.")
    var mountPoint: String

    func run() throws {
        try reportingFailures { try ControlClient.perform(.suspend, on: mountPoint) }
    }
}
