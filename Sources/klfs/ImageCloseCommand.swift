import ArgumentParser

struct ImageCloseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "close",
        abstract: "Unmount an image mount, as 'klfs unmount' does (detach its loop devices first)."
    )

    @OptionGroup var target: UnmountTarget

    func run() throws {
        try reportingFailures { try target.unmount() }
    }
}
