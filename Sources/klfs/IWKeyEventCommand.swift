import ArgumentParser

/// For testing only: stands in for the kernel or firmware changing the
/// IWKey under a running mount (docs/FUSE.md, "The control socket").
struct IWKeyEventCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iwkey-event",
        abstract: "For testing: perform an IWKey event (newKey, wipe, backUp, restore) in a mount's daemon.",
        shouldDisplay: false
    )

    @Argument(help: "Where the volume is mounted.")
    var mountPoint: String

    @Argument(help: "newKey, wipe (keylocker-soft); newKey, backUp, restore (keylocker under --emulate-keylocker).")
    var event: String

    func run() throws {
        try reportingFailures { try ControlClient.perform(.iwkeyEvent(event), on: mountPoint) }
    }
}
