import ArgumentParser

@main
struct KLFS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "klfs",
        abstract: "An encrypted directory over FUSE whose AES-256-XTS keys live only as Intel Key Locker handles.",
        subcommands: [InitCommand.self, PasswdCommand.self, InfoCommand.self,
                      CPUCommand.self, BenchCommand.self],
    )
}
