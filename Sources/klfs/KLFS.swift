import ArgumentParser
import Glibc

@main
struct KLFS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "klfs",
        abstract: "An encrypted directory over FUSE whose AES-256-XTS keys live only as Intel Key Locker handles.",
        subcommands: [InitCommand.self, PasswdCommand.self, InfoCommand.self,
                      CPUCommand.self, BenchCommand.self],
    )

    static func main() {
        // A parent may have blocked signals (test runners and Dispatch
        // workers do) and the mask survives exec: a daemon deaf to SIGTERM
        // would never unmount, and `openssl speed` never sees its SIGALRM.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, nil)
        main(nil)
    }
}
