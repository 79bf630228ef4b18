import ArgumentParser
import Glibc
import KLBlock
import KLEngine

/// What opens a volume: a passphrase (terminal, --passfile, --extpass) or
/// the master key init printed (--masterkey FILE, or - for stdin).
enum UnlockKey {
    case passphrase(PassphraseSource)
    case masterKey(path: String)

    /// Reads the secret and unlocks; the secret dies inside Volume.unlock.
    func unlock(cipherDir: String, engine: any XTSEngine) throws(VolumeError) -> UnlockedVolume {
        switch self {
        case .passphrase(let source):
            return try Volume.unlock(cipherDir: cipherDir, passphrase: try source.read(), engine: engine)
        case .masterKey(let path):
            let masterKey = path == "-" ? try MasterKeyText.read(from: STDIN_FILENO)
                                        : try MasterKeyText.read(fromFile: path)
            return try Volume.unlock(cipherDir: cipherDir, masterKey: masterKey, engine: engine)
        }
    }
}

/// `--passfile`, `--extpass` and `--masterkey`, for the commands that unlock.
struct UnlockOptions: ParsableArguments {
    @OptionGroup var passphrase: PassphraseOptions

    @Option(help: ArgumentHelp("Unlock with the master key printed by init (hex, from FILE or - for stdin) instead of the passphrase.",
                               valueName: "FILE"))
    var masterkey: String?

    func validate() throws {
        if masterkey != nil && (passphrase.passfile != nil || passphrase.extpass != nil) {
            throw ValidationError("--masterkey excludes --passfile and --extpass")
        }
    }

    /// The key the flags name, or nil when none was given.
    var givenKey: UnlockKey? {
        if let masterkey { return .masterKey(path: masterkey) }
        if passphrase.passfile != nil || passphrase.extpass != nil { return .passphrase(passphrase.source) }
        return nil
    }
}
