import ArgumentParser

@main
struct KLFS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "klfs",
        abstract: "An encrypted directory over FUSE whose AES-256-XTS keys live only as Intel Key Locker handles.",
        subcommands: [CPUCommand.self, BenchCommand.self],
    )
}
