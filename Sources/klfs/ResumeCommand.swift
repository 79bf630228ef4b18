import ArgumentParser
import Glibc
import KLBlock
import KLEngine

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Unlock a suspended or locked mount again; waiting requests go on.",
        discussion: """
            Reads the passphrase (terminal, --passfile, --extpass), the master key (--masterkey) or, for an \
            image mount, the keyfile (--keyfile) here and hands it to the daemon over the control socket; \
            the daemon runs the KDF and wraps fresh handles under the current IWKey. A wrong passphrase \
            leaves the mount as it was (exit status 10). An image opened with a keyfile reads that \
            keyfile again when no --keyfile is given.
            """
    )

    @Argument(help: "Where the volume is mounted.")
    var mountPoint: String

    @OptionGroup var key: UnlockOptions

    @OptionGroup var keyfile: KeyfileOptions

    func validate() throws {
        try keyfile.requireAlone(besides: key.passphrase)
        if keyfile.keyfile != nil && key.masterkey != nil { throw ValidationError("--keyfile excludes --masterkey") }
    }

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

    private func readSecret() throws -> (ControlRequest.SecretKind, SecretBytes) {
        if let source = keyfile.source {
            let bytes = try source.readSecret()
            guard bytes.count <= ControlRequest.SecretKind.keyfile.limit else {
                // An oversized keyfile's bytes die here, unsent.
                bytes.wipe()
                throw CommandFailure(.passphraseUnavailable, "the keyfile gives more than \(Keyfile.defaultSizeLimit >> 20) MiB: --keyfile-size limits it")
            }
            return (.keyfile, bytes)
        }
        switch key.givenKey ?? .passphrase(.terminal) {
        case .passphrase(let source):
            return (.passphrase, try source.read())
        case .masterKey(let path):
            return (.masterkey, path == "-" ? try MasterKeyText.read(from: STDIN_FILENO)
                                            : try MasterKeyText.read(fromFile: path))
        }
    }
}
