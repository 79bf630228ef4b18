import ArgumentParser
import Glibc

@main
struct KLFS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "klfs",
        abstract: "An encrypted directory over FUSE whose AES-256-XTS keys live only as Intel Key Locker handles.",
        subcommands: [InitCommand.self, MountCommand.self, UnmountCommand.self, StatusCommand.self,
                      SuspendCommand.self, ResumeCommand.self, LockCommand.self, PasswdCommand.self, InfoCommand.self,
                      FsckCommand.self, UpgradeCommand.self, CPUCommand.self, BenchCommand.self,
                      IWKeyEventCommand.self, ImageCommand.self]
    )

    static func main() {
        // A parent may have blocked signals (test runners and Dispatch
        // workers do) and the mask survives exec: a daemon deaf to SIGTERM
        // would never unmount, and `openssl speed` never sees its SIGALRM.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, nil)
        main(argumentsWithMountImplied(Array(CommandLine.arguments.dropFirst())))
    }

    /// mount.fuse3 runs an fstab line of type fuse.klfs as
    /// `klfs CIPHERDIR MOUNTPOINT -o OPTIONS`: a first argument that names
    /// an existing directory rather than a command means `mount`. A
    /// mistyped command stays an error instead of becoming a mount.
    static func argumentsWithMountImplied(_ arguments: [String]) -> [String] {
        guard let first = arguments.first, !first.hasPrefix("-"),
              !configuration.subcommands.contains(where: { $0._commandName == first }) else { return arguments }
        var status = stat()
        guard stat(first, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { return arguments }
        return ["mount"] + arguments
    }
}
