import KLEngine

/// Where `klfs image open` gets its secret from. What a keyfile's bytes
/// are depends on the format, as in cryptsetup: plain mode takes 64 of
/// them as the volume key, unhashed; LUKS2 takes them as the passphrase
/// a keyslot is opened with (cryptsetup's --key-file).
public enum ImageKeySource: Sendable, Equatable {
    case passphrase(PassphraseSource)
    /// --keyfile: from `offset`, at most `sizeLimit` bytes of it.
    case keyfile(path: String, offset: Int, sizeLimit: Int?)

    /// The secret as given, owned by the caller, who wipes it: the line
    /// read (terminal, --passfile, --extpass), or the keyfile's bytes from
    /// its offset, within its size limit. LUKS2 takes either as the
    /// passphrase; `klfs resume --keyfile` sends the keyfile's.
    public func readSecret() throws(ImageError) -> SecretBytes {
        switch self {
        case .passphrase(let source):
            do throws(VolumeError) { return try source.read() } catch { throw .passphrase(error) }
        case .keyfile(let path, let offset, let sizeLimit):
            return try Keyfile.read(path: path, offset: offset, sizeLimit: sizeLimit)
        }
    }
}
