import KLEngine

/// How a new keyslot proves it may hold the volume key.
public enum LUKS2KeyslotAuthority: Sendable {
    /// A passphrase of an existing keyslot.
    case passphrase(SecretBytes)
    /// The volume key itself (checked against the digest).
    case volumeKey(SecretBytes)
}

extension LUKS2Header {
    /// Adds a keyslot for `newPassphrase` (luksAddKey): the area is written
    /// and synced first, then both header copies, so a crash leaves either
    /// the old header or the new one. Returns the new header and the keyslot
    /// number (the lowest free one unless `keyslot` names one). Refused
    /// (``LUKS2Error/headerChanged``) if the image no longer holds this
    /// header version.
    public func addKeyslot(passphrase newPassphrase: SecretBytes, authority: LUKS2KeyslotAuthority,
                           kdf: LUKS2KeyslotKDF, keyslot requested: Int? = nil,
                           in file: LUKS2ImageFile) throws(LUKS2Error) -> (header: LUKS2Header, keyslot: Int) {
        try changing(in: file) { () throws(LUKS2Error) in
            let segment = try metadata.requireSupported()
            let volumeKey = try volumeKey(from: authority, in: file)
            // A key opened here from a passphrase dies with this call.
            defer { if case .passphrase = authority { volumeKey.wipe() } }
            let slot = try freeKeyslot(requested)
            let areaOffset = try freeAreaOffset(size: LUKS2Layout.keyslotAreaSize(keySize: volumeKey.count))
            let keyslotJSON = try LUKS2Keyslot.create(volumeKey: volumeKey, passphrase: newPassphrase, kdf: kdf,
                                                      areaOffset: areaOffset, in: file)
            var json = self.json
            json.set(["keyslots", String(slot)], to: keyslotJSON)
            guard let digest = metadata.digests.values.first(where: { $0.segments.contains(segment.id) }) else {
                throw .metadataInvalid("no digest covers segment \(segment.id)")
            }
            json.editStrings(["digests", String(digest.id), "keyslots"]) { $0.append(String(slot)) }
            return (try replaced(by: json, in: file), slot)
        }
    }

    /// Removes a keyslot (luksKillSlot): the header without it is written
    /// first, then its area is overwritten with random bytes, so that the
    /// stripes are gone even from a copy of the image made later. The last
    /// keyslot is kept unless `force`.
    public func removeKeyslot(_ slot: Int, force: Bool = false, in file: LUKS2ImageFile) throws(LUKS2Error) -> LUKS2Header {
        try changing(in: file) { () throws(LUKS2Error) in
            // An image klfs cannot open is not one it may change either.
            _ = try metadata.requireSupported()
            guard let keyslot = metadata.keyslots[slot] else { throw .keyslotNotFound(slot) }
            guard force || metadata.keyslots.count > 1 else { throw .lastKeyslot(slot) }
            var json = self.json
            json.set(["keyslots", String(slot)], to: nil)
            let unbind: (inout [String]) -> Void = { $0.removeAll { $0 == String(slot) } }
            for digest in metadata.digests.values { json.editStrings(["digests", String(digest.id), "keyslots"], unbind) }
            for token in metadata.tokens.values { json.editStrings(["tokens", String(token.id), "keyslots"], unbind) }
            let header = try replaced(by: json, in: file)
            if let area = keyslot.area {
                try file.write(publicRandomBytes(Int(area.size)), at: Int(area.offset))
                try file.sync()
            }
            return header
        }
    }

    /// The volume key the authority proves, checked against the digest.
    private func volumeKey(from authority: LUKS2KeyslotAuthority, in file: LUKS2ImageFile) throws(LUKS2Error) -> SecretBytes {
        switch authority {
        case .passphrase(let passphrase):
            return try unlock(passphrase: passphrase, in: file).volumeKey
        case .volumeKey(let key):
            try verify(volumeKey: key)
            return key
        }
    }

    private func freeKeyslot(_ requested: Int?) throws(LUKS2Error) -> Int {
        if let requested {
            guard (0..<LUKS2Limits.keyslotCount).contains(requested), metadata.keyslots[requested] == nil else {
                throw .keyslotUnavailable(requested)
            }
            return requested
        }
        guard let free = (0..<LUKS2Limits.keyslotCount).first(where: { metadata.keyslots[$0] == nil }) else { throw .noFreeKeyslot }
        return free
    }

    /// The lowest aligned offset in the keyslots area where `size` bytes
    /// overlap no keyslot's area.
    private func freeAreaOffset(size: Int) throws(LUKS2Error) -> Int {
        let start = 2 * headerSize
        let end = start + Int(metadata.config.keyslotsSize)
        let used = metadata.keyslots.values.compactMap(\.area).map { Int($0.offset)..<Int($0.offset + $0.size) }
        var offset = start
        while offset + size <= end {
            if let blocking = used.first(where: { $0.overlaps(offset..<offset + size) }) {
                let alignment = LUKS2Limits.keyslotAreaAlignment
                offset = (blocking.upperBound + alignment - 1) / alignment * alignment
            } else {
                return offset
            }
        }
        throw .keyslotsAreaFull(needed: size)
    }
}
