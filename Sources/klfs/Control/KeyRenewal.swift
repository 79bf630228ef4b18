import KLBlock
import KLEngine

/// How a mount makes its keys again on `klfs resume`, and what it serves:
/// a directory volume unlocks klfs.conf again; an image derives its volume
/// key again (ImageKeyRenewal).
protocol KeyRenewal: Sendable {
    /// What `klfs status` shows as the mount's source: the cipher dir, or the image.
    var source: String { get }
    /// "directory" or "image", for `klfs status`.
    var mode: String { get }
    /// What `klfs status` shows of an image mount (nil for a directory).
    var image: ImageStatusReport? { get }
    /// Fresh keys from `secret`, wrapped by `engine`. The secret dies
    /// inside, on every path.
    func renewedKeys(_ kind: ControlRequest.SecretKind, secret: SecretBytes,
                     engine: any XTSEngine) throws(CommandFailure) -> KeySet
}

extension KeyRenewal {
    var image: ImageStatusReport? { nil }
}

/// A directory volume: the passphrase or master key unlocks klfs.conf.
struct DirectoryKeyRenewal: KeyRenewal {
    let cipherDir: String

    var source: String { cipherDir }
    var mode: String { "directory" }

    /// The secret dies inside Volume.unlock.
    func renewedKeys(_ kind: ControlRequest.SecretKind, secret: SecretBytes,
                     engine: any XTSEngine) throws(CommandFailure) -> KeySet {
        if kind == .keyfile {
            // Keyfile bytes, which a directory volume has no use for, die here.
            secret.wipe()
            throw CommandFailure(.passphraseUnavailable, "a directory mount resumes with its passphrase or master key, not a keyfile")
        }
        do throws(VolumeError) {
            let volume = kind == .masterkey
                ? try Volume.unlock(cipherDir: cipherDir, masterKey: secret, engine: engine)
                : try Volume.unlock(cipherDir: cipherDir, passphrase: secret, engine: engine)
            do throws(EngineError) { return try KeySet(volume, engine: engine) } catch { throw VolumeError.engine(error) }
        } catch {
            throw CommandFailure(error)
        }
    }
}
