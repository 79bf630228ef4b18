import KLEngine

/// What opening an image produces, whatever its format: the 512-bit
/// aes-xts-plain64 volume key and the layout of the sectors it encrypts.
/// Plain mode derives it from a passphrase or keyfile (PlainKeyDerivation);
/// a LUKS2 header gives it from a keyslot and its data segment.
///
/// The volume key lives here only between opening and
/// ``makeDeviceKey(with:)``, which wipes it.
public struct ImageMapping: Sendable {
    /// K1 || K2, 64 bytes, in secret memory.
    public let volumeKey: SecretBytes
    public let layout: ImageLayout

    /// Takes ownership of `volumeKey`.
    public init(volumeKey: SecretBytes, layout: ImageLayout) throws(ImageError) {
        guard volumeKey.count == 64 else {
            // A key of the wrong size dies here.
            volumeKey.wipe()
            throw .unsupportedKeySize(bits: volumeKey.count * 8)
        }
        self.volumeKey = volumeKey
        self.layout = layout
    }

    /// The engine's form of the volume key (Key Locker handles, or aesni's
    /// locked schedule). The raw volume key dies here, on every path.
    public func makeDeviceKey(with engine: any XTSEngine) throws(ImageError) -> any XTSKey {
        defer { volumeKey.wipe() }
        do throws(EngineError) {
            // K1 and K2 die inside makeKey(splitting:).
            return try engine.makeKey(splitting: volumeKey)
        } catch {
            throw .engine(error)
        }
    }
}
