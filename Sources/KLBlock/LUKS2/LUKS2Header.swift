/// A LUKS2 header as read from an image: the copy in force, its metadata,
/// and what was found of each copy. Reading checks both copies (magic,
/// version, size, offset, checksum, JSON) and takes the valid one with the
/// higher sequence id, as cryptsetup does; ``primary`` and ``secondary``
/// say whether the other copy is corrupt or stale, so that `dump` can
/// report it and a write repairs it.
public struct LUKS2Header: Sendable {
    public enum CopyState: Sendable, Equatable, CustomStringConvertible {
        case valid
        /// Valid, but an older version than the other copy.
        case stale(sequenceID: UInt64)
        case corrupt(String)

        public var description: String {
            switch self {
            case .valid: return "valid"
            case .stale(let id): return "stale (seqid \(id))"
            case .corrupt(let why): return "corrupt (\(why))"
            }
        }
    }

    public let metadata: LUKS2Metadata
    /// The metadata tree, with the fields klfs does not model.
    let json: LUKS2JSON
    /// The binary header of the copy in force.
    let binary: LUKS2BinaryHeader
    public let primary: CopyState
    public let secondary: CopyState

    public var sequenceID: UInt64 { binary.sequenceID }
    public var uuid: String { binary.uuid }
    public var label: String { binary.label }
    public var subsystem: String { binary.subsystem }
    /// Binary header plus JSON area of one copy, in bytes.
    public var headerSize: Int { Int(binary.headerSize) }

    public static func read(path: String) throws(LUKS2Error) -> LUKS2Header {
        try read(from: LUKS2ImageFile(path: path, writable: false))
    }

    /// Reads through a descriptor the caller keeps open; `path` is for messages.
    public static func read(descriptor: Int32, path: String) throws(LUKS2Error) -> LUKS2Header {
        try read(from: LUKS2ImageFile(descriptor: descriptor, path: path))
    }

    public static func read(from file: LUKS2ImageFile) throws(LUKS2Error) -> LUKS2Header {
        let primary = try LUKS2HeaderCopy.load(from: file, at: 0, copy: .primary)
        let secondary = try findSecondary(in: file, after: primary)
        switch (primary, secondary) {
        case (.success(let a), .success(let b)):
            return choose(a, b)
        case (.success(let a), .failure(let problem)):
            return LUKS2Header(in: a, primary: .valid, secondary: .corrupt(problem.text))
        case (.failure(let problem), .success(let b)):
            return LUKS2Header(in: b, primary: .corrupt(problem.text), secondary: .valid)
        case (.failure(.noMagic), .failure(.noMagic)):
            throw .notLUKS(path: file.path)
        case (.failure(.version(let version)), .failure), (.failure, .failure(.version(let version))):
            // LUKS1, or a future version: not a damaged LUKS2 header.
            throw .unsupportedVersion(version)
        case (.failure(let a), .failure(let b)):
            throw .headerCorrupt(primary: a.text, secondary: b.text)
        }
    }

    /// The secondary copy starts at the primary's header size; when the
    /// primary is unreadable every size the format allows is tried.
    private static func findSecondary(in file: LUKS2ImageFile,
                                      after primary: Result<LUKS2HeaderCopy, LUKS2HeaderCopy.Problem>)
        throws(LUKS2Error) -> Result<LUKS2HeaderCopy, LUKS2HeaderCopy.Problem> {
        var offsets = LUKS2Limits.headerSizes
        if case .success(let copy) = primary { offsets = [Int(copy.binary.headerSize)] }
        var firstProblem = LUKS2HeaderCopy.Problem.noMagic
        for offset in offsets {
            let found = try LUKS2HeaderCopy.load(from: file, at: offset, copy: .secondary)
            switch found {
            case .success: return found
            case .failure(.noMagic): continue
            case .failure(let problem): if firstProblem == .noMagic { firstProblem = problem }
            }
        }
        return .failure(firstProblem)
    }

    /// Both copies are valid: the higher sequence id wins; equal ids must
    /// carry the same metadata, or the secondary is reported as corrupt.
    private static func choose(_ a: LUKS2HeaderCopy, _ b: LUKS2HeaderCopy) -> LUKS2Header {
        if a.binary.sequenceID < b.binary.sequenceID {
            return LUKS2Header(in: b, primary: .stale(sequenceID: a.binary.sequenceID), secondary: .valid)
        }
        if a.binary.sequenceID > b.binary.sequenceID {
            return LUKS2Header(in: a, primary: .valid, secondary: .stale(sequenceID: b.binary.sequenceID))
        }
        let same = a.json == b.json && a.binary.uuid == b.binary.uuid && a.binary.headerSize == b.binary.headerSize
        return LUKS2Header(in: a, primary: .valid,
                           secondary: same ? .valid : .corrupt("differs from the primary with the same seqid"))
    }

    private init(in copy: LUKS2HeaderCopy, primary: CopyState, secondary: CopyState) {
        self.init(metadata: copy.metadata, json: copy.json, binary: copy.binary, primary: primary, secondary: secondary)
    }

    init(metadata: LUKS2Metadata, json: LUKS2JSON, binary: LUKS2BinaryHeader, primary: CopyState, secondary: CopyState) {
        self.metadata = metadata
        self.json = json
        self.binary = binary
        self.primary = primary
        self.secondary = secondary
    }
}
