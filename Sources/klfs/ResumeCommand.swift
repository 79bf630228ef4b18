import ArgumentParser
import Glibc
import KLBlock
import KLEngine

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Unlock a suspended or locked mount again; waiting requests go on.",
        discussion: """
            Reads the passphrase (terminal, --passfile, --extpass) or the master key (--masterkey) here \
            and hands it to the daemon over the control socket; the daemon runs the KDF and wraps fresh \
            handles under the current IWKey. A wrong passphrase leaves the mount as it was (exit status 10).
            """
    )

    @Argument(help: "Where the volume is mounted.")
    var mountPoint: String

    @OptionGroup var key: UnlockOptions

    func run() throws {
        try reportingFailures {
            // Found before the secret is read, so that a wrong mount point
            // asks for no passphrase.
            let mount = try MountTable().klfsMount(at: mountPoint)
            let (kind, secret) = try readSecret()
            // The client's copy of the secret dies here, once sent.
            defer { secret.wipe() }
            _ = try ControlClient.require(try ControlClient.send(.resume(kind, length: secret.count), secret: secret,
                                                                 to: mount))
        }
    }

    private func readSecret() throws(VolumeError) -> (ControlRequest.SecretKind, SecretBytes) {
        switch key.givenKey ?? .passphrase(.terminal) {
        case .passphrase(let source):
            return (.passphrase, try source.read())
        case .masterKey(let path):
            return (.masterkey, path == "-" ? try MasterKeyText.read(from: STDIN_FILENO)
                                            : try MasterKeyText.read(fromFile: path))
        }
    }
}
