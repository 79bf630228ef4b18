import KLBlock
import KLEngine

/// The engine's keys of one unlock: what ``VolumeKeys`` publishes and
/// replaces as a whole on suspend, lock and resume.
final class KeySet: Sendable {
    let contents: any XTSKey
    let names: (any BlockCipherKey)?
    let headers: (any BlockCipherKey)?
    let extendedAttributeNames: (any BlockCipherKey)?
    /// Made in the same unlock, to tell IWKey loss from tampering; nil for aesni.
    let canary: IWKeyCanary?

    /// Takes the keys of `volume`, which should die with the caller's copy.
    init(_ volume: UnlockedVolume, engine: any XTSEngine) throws(EngineError) {
        contents = volume.key
        names = volume.namesKey
        headers = volume.headerKey
        extendedAttributeNames = volume.extendedAttributeKey
        canary = try engine.makeIWKeyCanary()
    }

    /// An image's one key: the volume key's engine form.
    init(imageKey: any XTSKey, engine: any XTSEngine) throws(EngineError) {
        contents = imageKey
        names = nil
        headers = nil
        extendedAttributeNames = nil
        canary = try engine.makeIWKeyCanary()
    }

    /// One of the four keys (``GatedBlockKey`` asks by role).
    func blockKey(_ role: BlockKeyRole) -> (any BlockCipherKey)? {
        switch role {
        case .names: return names
        case .headers: return headers
        case .extendedAttributeNames: return extendedAttributeNames
        }
    }
}

enum BlockKeyRole: Sendable {
    case names, headers, extendedAttributeNames
}
