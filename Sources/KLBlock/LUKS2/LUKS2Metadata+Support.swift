extension LUKS2Metadata {
    static let supportedCipher = "aes-xts-plain64"
    static let volumeKeySize = 64
    static let supportedSectorSizes = [512, 4096]
    /// Keyslot areas: AES-128-XTS or AES-256-XTS.
    static let supportedAreaKeySizes = [32, 64]

    /// The data segment, after checking that klfs implements everything the
    /// metadata uses; anything else is refused with its own error rather
    /// than opened as if it were absent. `dump` does not call this, so it
    /// can show an image klfs cannot open.
    public func requireSupported() throws(LUKS2Error) -> LUKS2Segment {
        guard config.mandatoryRequirements.isEmpty else { throw .mandatoryRequirements(config.mandatoryRequirements) }
        if keyslots.values.contains(where: { $0.type == "reencrypt" }) { throw .reencryptionInProgress }
        let segment = try requireSupportedSegment()
        for digest in digests.values.sorted(by: { $0.id < $1.id }) { try digest.requireSupported() }
        guard digests.values.contains(where: { $0.segments.contains(segment.id) }) else {
            throw .metadataInvalid("no digest covers segment \(segment.id)")
        }
        for keyslot in keyslots.values.sorted(by: { $0.id < $1.id }) { try keyslot.requireSupported(dataOffset: segment.offset) }
        if let token = tokens.values.sorted(by: { $0.id < $1.id }).first(where: { !$0.keyslots.isEmpty }) {
            throw .tokenUnsupported(id: String(token.id), type: token.type)
        }
        return segment
    }

    private func requireSupportedSegment() throws(LUKS2Error) -> LUKS2Segment {
        guard segments.count == 1, let segment = segments.values.first else {
            throw .unsupportedSegments("\(segments.count) segments (klfs opens exactly one)")
        }
        guard segment.type == "crypt" else { throw .unsupportedSegments("segment \(segment.id) is of type \(segment.type)") }
        if let integrity = segment.integrity { throw .integrityUnsupported(integrity) }
        guard segment.encryption == Self.supportedCipher else { throw .unsupportedCipher(segment.encryption) }
        guard Self.supportedSectorSizes.contains(segment.sectorSize) else { throw .unsupportedSectorSize(segment.sectorSize) }
        guard segment.ivTweak % UInt64(segment.sectorSize / 512) == 0 else {
            throw .unsupportedSegments("iv_tweak \(segment.ivTweak) is not a whole number of \(segment.sectorSize)-byte sectors")
        }
        guard segment.offset % UInt64(segment.sectorSize) == 0 else {
            throw .unsupportedSegments("offset \(segment.offset) is not a whole number of \(segment.sectorSize)-byte sectors")
        }
        guard segment.flags.isEmpty else {
            throw .unsupportedSegments("segment \(segment.id) has flags \(segment.flags.joined(separator: ", "))")
        }
        return segment
    }
}

extension LUKS2Digest {
    func requireSupported() throws(LUKS2Error) {
        guard type == "pbkdf2" else { throw .unsupportedDigest(id: String(id), reason: "type \(type)") }
        _ = try LUKS2Hash(named: hash)
        guard iterations >= 1, !salt.isEmpty, !value.isEmpty else {
            throw .unsupportedDigest(id: String(id), reason: "empty salt, digest or iterations")
        }
    }
}

extension LUKS2Keyslot {
    /// `dataOffset`: where the data segment starts, which no keyslot area
    /// may reach (it would be read as key material, and overwritten when
    /// the keyslot is removed).
    func requireSupported(dataOffset: UInt64) throws(LUKS2Error) {
        let name = String(id)
        guard type == "luks2" else { throw .unsupportedKeyslot(id: name, reason: "type \(type)") }
        guard keySize == LUKS2Metadata.volumeKeySize else { throw .unsupportedKeySize(bits: keySize * 8) }
        // cryptsetup writes 4000 stripes; the cap keeps a hostile count from overflowing sizes.
        guard let af = antiForensic, af.type == "luks1", (1...(1 << 20)).contains(af.stripes) else {
            throw .unsupportedKeyslot(id: name, reason: "anti-forensic splitter \(antiForensic?.type ?? "missing")")
        }
        _ = try LUKS2Hash(named: af.hash)
        guard let area, area.type == "raw" else {
            throw .unsupportedKeyslot(id: name, reason: "area type \(area?.type ?? "missing")")
        }
        guard area.encryption == LUKS2Metadata.supportedCipher else { throw .unsupportedCipher(area.encryption ?? "none") }
        guard let areaKeySize = area.keySize, LUKS2Metadata.supportedAreaKeySizes.contains(areaKeySize) else {
            throw .unsupportedKeyslot(id: name, reason: "area key size \(area.keySize.map { String($0 * 8) } ?? "missing") bits")
        }
        guard area.size >= UInt64(LUKS2AFSplitter.splitSize(keySize: keySize, stripes: af.stripes)) else {
            throw .unsupportedKeyslot(id: name, reason: "area of \(area.size) bytes is smaller than its \(af.stripes) stripes")
        }
        guard area.size <= dataOffset, area.offset <= dataOffset - area.size else {
            throw .unsupportedKeyslot(id: name, reason: "its area overlaps the data segment")
        }
        switch kdf {
        case .pbkdf2(let hash, _, _)?: _ = try LUKS2Hash(named: hash)
        case .argon2?: break
        case .unknown(let type)?: throw .unsupportedKDF(type)
        case nil: throw .unsupportedKeyslot(id: name, reason: "no KDF")
        }
    }
}
