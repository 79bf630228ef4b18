import KLBlock
import KLEngine

/// The volume's XTS key as the mount uses it: each call runs on the
/// current keys of ``VolumeKeys`` (waiting while suspended, failing while
/// locked) and counts the sectors it did.
struct GatedXTSKey: XTSKey {
    let keys: VolumeKeys
    let engine: EngineKind

    var wrappingKey: IWKeyAttributes? { keys.snapshot().wrappingKey }
    var kernelName: String { keys.engine.kernelName }

    func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
               into output: UnsafeMutableRawBufferPointer,
               dataUnitSize: Int, firstDataUnit: UInt128, dataUnitStep: UInt64) throws(EngineError) {
        try keys.using { set throws(EngineError) in
            try set.contents.crypt(direction, input, into: output, dataUnitSize: dataUnitSize,
                                   firstDataUnit: firstDataUnit, dataUnitStep: dataUnitStep)
        }
        let sectors = UInt64(input.count / max(dataUnitSize, 1))
        switch direction {
        case .encrypt: keys.statistics.sectorsEncrypted.add(sectors)
        case .decrypt: keys.statistics.sectorsDecrypted.add(sectors)
        }
    }
}

/// The names, header or extended attribute names key, the same way.
struct GatedBlockKey: BlockCipherKey {
    let keys: VolumeKeys
    let role: BlockKeyRole
    let engine: EngineKind

    func withCipher(for directions: CryptDirections,
                    _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError) {
        try keys.using { set throws(EngineError) in
            // Every set of a volume that has this key has it (resume makes
            // the same keys again).
            guard let key = set.blockKey(role) else { preconditionFailure("a key set without its \(role) key") }
            try key.withCipher(for: directions, body)
        }
    }
}

extension UnlockedVolume {
    /// This volume with its keys replaced by gated ones over `keys`.
    func gated(by keys: VolumeKeys) -> UnlockedVolume {
        let engine = key.engine
        return UnlockedVolume(
            config: config, key: GatedXTSKey(keys: keys, engine: engine),
            namesKey: namesKey.map { _ in GatedBlockKey(keys: keys, role: .names, engine: engine) },
            headerKey: headerKey.map { _ in GatedBlockKey(keys: keys, role: .headers, engine: engine) },
            extendedAttributeKey: extendedAttributeKey.map { _ in
                GatedBlockKey(keys: keys, role: .extendedAttributeNames, engine: engine)
            })
    }
}
