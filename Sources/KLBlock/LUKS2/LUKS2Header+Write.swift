extension LUKS2Header {
    /// The identity a new header version keeps: UUID, label, subsystem, size.
    struct Identity {
        var headerSize: Int
        var uuid: String
        var label: String = ""
        var subsystem: String = ""
    }

    var identity: Identity {
        Identity(headerSize: headerSize, uuid: uuid, label: label, subsystem: subsystem)
    }

    /// Runs a metadata change under an exclusive lock on the image, once
    /// the image is seen to still hold this header version: a change based
    /// on a header another process (cryptsetup, say) has since rewritten
    /// would undo that process's change.
    func changing<R>(in file: LUKS2ImageFile, _ body: () throws(LUKS2Error) -> R) throws(LUKS2Error) -> R {
        try file.withExclusiveLock { () throws(LUKS2Error) in
            let current = try LUKS2Header.read(from: file)
            guard current.sequenceID == sequenceID, current.json == json else {
                throw .headerChanged(read: sequenceID, now: current.sequenceID)
            }
            return try body()
        }
    }

    /// Writes `json` as the next version of this header (sequence id + 1).
    func replaced(by json: LUKS2JSON, in file: LUKS2ImageFile) throws(LUKS2Error) -> LUKS2Header {
        try Self.write(json: json, identity: identity, sequenceID: sequenceID + 1, to: file)
    }

    /// Writes both copies: the primary, fsync, then the secondary, fsync. A
    /// crash while the primary is written leaves the secondary (the old
    /// version, or the previous write's) valid; a crash after it leaves a
    /// valid primary with the higher sequence id. Either way one valid copy
    /// survives and the reader picks it.
    static func write(json: LUKS2JSON, identity: Identity, sequenceID: UInt64,
                      to file: LUKS2ImageFile) throws(LUKS2Error) -> LUKS2Header {
        let metadata = try LUKS2Metadata(json: json)
        let jsonAreaSize = identity.headerSize - LUKS2Limits.binaryHeaderSize
        let text = json.serialized()
        // The JSON area keeps at least one NUL after the text.
        guard text.count < jsonAreaSize else {
            throw .metadataInvalid("the metadata (\(text.count) bytes) does not fit the \(jsonAreaSize)-byte JSON area")
        }
        var written: LUKS2BinaryHeader?
        for copy in [LUKS2BinaryHeader.Copy.primary, .secondary] {
            let binary = LUKS2BinaryHeader(copy: copy, headerSize: UInt64(identity.headerSize), sequenceID: sequenceID,
                                           label: identity.label, uuid: identity.uuid, subsystem: identity.subsystem,
                                           salt: publicRandomBytes(64))
            try file.write(serializedCopy(binary, text: text), at: Int(binary.headerOffset))
            try file.sync()
            if copy == .primary { written = binary }
        }
        return LUKS2Header(metadata: metadata, json: json, binary: written!, primary: .valid, secondary: .valid)
    }

    /// Binary header + NUL-padded JSON area, checksum filled in.
    private static func serializedCopy(_ binary: LUKS2BinaryHeader, text: [UInt8]) -> [UInt8] {
        var whole = binary.serialized() + text
        whole += [UInt8](repeating: 0, count: Int(binary.headerSize) - whole.count)
        let checksum = LUKS2HeaderCopy.checksum(of: whole, hash: .sha256)
        whole.replaceSubrange(LUKS2BinaryHeader.checksumRange.lowerBound..<LUKS2BinaryHeader.checksumRange.lowerBound + checksum.count,
                              with: checksum)
        return whole
    }
}
