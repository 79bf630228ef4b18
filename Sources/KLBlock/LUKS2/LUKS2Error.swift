import KLEngine

/// Every way reading, unlocking or changing a LUKS2 image can fail. The
/// CLI maps the cases to exit codes (``wrongPassphrase`` to the volume's
/// "wrong passphrase" code); each has a message a user can act on.
///
/// Anything klfs does not implement is refused with its own case, never
/// misread: a LUKS2 feature read as if it were absent would decrypt to
/// garbage or, worse, write over data another tool manages.
public enum LUKS2Error: Error, Equatable, Sendable, CustomStringConvertible {
    /// open/read/write/fsync of the image failed.
    case io(path: String, operation: String, errno: Int32)
    /// Neither header copy starts with a LUKS magic.
    case notLUKS(path: String)
    /// A LUKS header of another version (LUKS1 is 1).
    case unsupportedVersion(UInt16)
    /// Neither header copy is valid; the texts say what is wrong with each.
    case headerCorrupt(primary: String, secondary: String)
    /// The JSON metadata of a valid copy breaks the format (missing field,
    /// wrong type, bad base64); the text names the field.
    case metadataInvalid(String)
    /// No keyslot opened with this passphrase.
    case wrongPassphrase
    /// The volume key given does not match the volume's digest.
    case wrongVolumeKey
    /// The header has no keyslot this passphrase could be tried on.
    case noUsableKeyslot
    case unsupportedCipher(String)
    case unsupportedKeySize(bits: Int)
    case unsupportedSectorSize(Int)
    /// The segment has dm-integrity (authenticated encryption).
    case integrityUnsupported(String)
    /// config.requirements.mandatory lists features klfs does not have
    /// (online-reencrypt, say); cryptsetup refuses these too when it lacks them.
    case mandatoryRequirements([String])
    /// A reencrypt keyslot: a reencryption is in progress.
    case reencryptionInProgress
    /// A token is bound to a keyslot: its passphrase comes from a plugin
    /// (FIDO2, TPM2, the keyring) that klfs does not run.
    case tokenUnsupported(id: String, type: String)
    /// Only one data segment (the whole device) is supported.
    case unsupportedSegments(String)
    case unsupportedKDF(String)
    case unsupportedHash(String)
    /// A keyslot or digest feature klfs does not implement; the text says which.
    case unsupportedKeyslot(id: String, reason: String)
    case unsupportedDigest(id: String, reason: String)
    case keyslotNotFound(Int)
    /// A keyslot asked for by number is taken, or beyond the 32 there are.
    case keyslotUnavailable(Int)
    /// Removing the last keyslot would make the volume unopenable.
    case lastKeyslot(Int)
    /// All 32 keyslot numbers are taken.
    case noFreeKeyslot
    /// The keyslots area has no gap large enough for another keyslot.
    case keyslotsAreaFull(needed: Int)
    /// The image's header is no longer the version a change was based on
    /// (another process changed it); read it again and retry.
    case headerChanged(read: UInt64, now: UInt64)
    /// format refuses to overwrite an existing file.
    case imageExists(path: String)
    /// The KDF parameters are out of range (or libargon2 / libcrypto failed).
    case kdfFailed(String)
    /// Secret memory or the random source failed.
    case engine(EngineError)

    public var description: String {
        switch self {
        case .io(let path, let operation, let code):
            return "cannot \(operation) \(path): \(errorText(code))"
        case .notLUKS(let path):
            return "\(path) is not a LUKS image (no LUKS header)"
        case .unsupportedVersion(let version):
            return "LUKS version \(version) is not supported (klfs reads LUKS2 only)"
        case .headerCorrupt(let primary, let secondary):
            return "both LUKS2 header copies are corrupt (primary: \(primary); secondary: \(secondary))"
        case .metadataInvalid(let why):
            return "the LUKS2 JSON metadata is invalid: \(why)"
        case .wrongPassphrase:
            return "wrong passphrase: no keyslot opens with it"
        case .wrongVolumeKey:
            return "the volume key does not match this image's digest"
        case .noUsableKeyslot:
            return "the image has no keyslot that a passphrase can open"
        case .unsupportedCipher(let cipher):
            return "cipher \(cipher) is not supported (klfs supports aes-xts-plain64)"
        case .unsupportedKeySize(let bits):
            return "a \(bits)-bit volume key is not supported (klfs supports 512-bit aes-xts-plain64)"
        case .unsupportedSectorSize(let size):
            return "sector size \(size) is not supported (klfs supports 512 and 4096)"
        case .integrityUnsupported(let type):
            return "the segment uses integrity protection (\(type)), which klfs does not support"
        case .mandatoryRequirements(let names):
            return "the image requires features klfs does not have: \(names.joined(separator: ", "))"
        case .reencryptionInProgress:
            return "a reencryption of this image is in progress; finish it with cryptsetup first"
        case .tokenUnsupported(let id, let type):
            return "token \(id) (\(type)) is bound to a keyslot; klfs does not run LUKS2 tokens"
        case .unsupportedSegments(let why):
            return "unsupported data segments: \(why)"
        case .unsupportedKDF(let kdf):
            return "KDF \(kdf) is not supported (klfs supports argon2id, argon2i and pbkdf2)"
        case .unsupportedHash(let hash):
            return "hash \(hash) is not supported"
        case .unsupportedKeyslot(let id, let reason):
            return "keyslot \(id) is not supported: \(reason)"
        case .unsupportedDigest(let id, let reason):
            return "digest \(id) is not supported: \(reason)"
        case .keyslotNotFound(let slot):
            return "keyslot \(slot) is not in use"
        case .keyslotUnavailable(let slot):
            return "keyslot \(slot) is already in use or not a keyslot number (0 to \(LUKS2Limits.keyslotCount - 1))"
        case .lastKeyslot(let slot):
            return "keyslot \(slot) is the last one; removing it would make the image unopenable"
        case .noFreeKeyslot:
            return "all \(LUKS2Limits.keyslotCount) keyslots are in use"
        case .keyslotsAreaFull(let needed):
            return "the keyslots area has no free \(needed)-byte gap for another keyslot"
        case .headerChanged(let read, let now):
            return "the LUKS2 header changed while klfs was using it (seqid \(read), now \(now)); nothing was written, try again"
        case .imageExists(let path):
            return "\(path) already exists; format makes a new image only"
        case .kdfFailed(let why):
            return "key derivation failed: \(why)"
        case .engine(let error):
            return error.description
        }
    }
}

/// Runs `body`, turning a secret-memory or randomness failure into a ``LUKS2Error``.
func secretCall<R>(_ body: () throws(EngineError) -> R) throws(LUKS2Error) -> R {
    do { return try body() } catch { throw .engine(error) }
}
