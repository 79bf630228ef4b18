import KLBlock
import KLEngine

/// `klfs resume` of an image mount: the volume key is derived again the
/// way the mount derived it: from the passphrase sent (plain mode's hash),
/// or, for an image opened with a keyfile, from that keyfile read again
/// (the passphrase sent is then ignored).
struct ImageKeyRenewal: KeyRenewal {
    let imagePath: String
    let parameters: PlainImage.Parameters
    let key: PlainImage.KeySource

    var source: String { imagePath }
    var mode: String { "image" }

    /// The secret dies here (passphrase) or is not used (keyfile, wiped
    /// unread); the derived volume key dies inside makeDeviceKey.
    func renewedKeys(_ kind: ControlRequest.SecretKind, secret: SecretBytes,
                     engine: any XTSEngine) throws(CommandFailure) -> KeySet {
        defer { secret.wipe() }
        guard kind == .passphrase else {
            throw CommandFailure(.imageUnsupported, "an image mount resumes with its passphrase (or keyfile), not a master key")
        }
        do throws(ImageError) {
            let volumeKey: SecretBytes
            switch key {
            case .passphrase:
                volumeKey = try PlainKeyDerivation.key(fromPassphrase: secret, hash: parameters.hash)
            case .keyfile(let path, let offset, let sizeLimit):
                volumeKey = try PlainKeyDerivation.key(fromKeyfile: path, offset: offset, sizeLimit: sizeLimit)
            }
            let mapping = try ImageMapping(volumeKey: volumeKey, layout: try parameters.layout())
            let imageKey = try mapping.makeDeviceKey(with: engine)
            do throws(EngineError) { return try KeySet(imageKey: imageKey, engine: engine) } catch { throw ImageError.engine(error) }
        } catch {
            throw CommandFailure(error)
        }
    }
}
