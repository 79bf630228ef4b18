import KLEngine

/// The volume key a passphrase opened, and the keyslot that opened it.
public struct LUKS2UnlockedKey: Sendable {
    /// 64 bytes, K1 || K2 of aes-xts-plain64. The caller wraps it and
    /// wipes it (it is also wiped when the last reference dies).
    public let volumeKey: SecretBytes
    public let keyslot: Int
}

extension LUKS2Header {
    /// Tries the passphrase on the keyslots in cryptsetup's order: the
    /// named keyslot only, if one is named (even of priority "ignore");
    /// otherwise priority high, then normal, each by number, skipping
    /// "ignore". Each candidate key is checked against the digest that
    /// binds its keyslot to the data segment; a wrong one is wiped at once.
    public func unlock(passphrase: SecretBytes, keyslot: Int? = nil,
                       in file: LUKS2ImageFile) throws(LUKS2Error) -> LUKS2UnlockedKey {
        let segment = try metadata.requireSupported()
        let candidates = try keyslotsToTry(named: keyslot)
        guard !candidates.isEmpty else { throw .noUsableKeyslot }
        for slot in candidates {
            guard let digest = digest(binding: slot.id, to: segment.id) else { continue }
            let key = try slot.candidateKey(passphrase: passphrase, in: file)
            let matches: Bool
            do { matches = try digest.matches(key) } catch {
                // The candidate dies with the failed check.
                key.wipe()
                throw error
            }
            if matches { return LUKS2UnlockedKey(volumeKey: key, keyslot: slot.id) }
            // A wrong candidate dies here.
            key.wipe()
        }
        throw .wrongPassphrase
    }

    /// Throws ``LUKS2Error/wrongVolumeKey`` unless `key` is this image's volume key.
    public func verify(volumeKey key: SecretBytes) throws(LUKS2Error) {
        let segment = try metadata.requireSupported()
        guard key.count == LUKS2Metadata.volumeKeySize,
              let digest = metadata.digests.values.first(where: { $0.segments.contains(segment.id) }),
              try digest.matches(key) else { throw .wrongVolumeKey }
    }

    private func keyslotsToTry(named id: Int?) throws(LUKS2Error) -> [LUKS2Keyslot] {
        if let id {
            guard let slot = metadata.keyslots[id] else { throw .keyslotNotFound(id) }
            return [slot]
        }
        let byNumber = metadata.keyslots.values.sorted { $0.id < $1.id }
        return byNumber.filter { $0.priority == .high } + byNumber.filter { $0.priority == .normal }
    }

    func digest(binding keyslot: Int, to segment: Int) -> LUKS2Digest? {
        metadata.digests.values.sorted { $0.id < $1.id }
            .first { $0.keyslots.contains(keyslot) && $0.segments.contains(segment) }
    }
}
