/// What `klfs fsck` found in a cipher dir: one finding per problem, and
/// counts of everything it looked at (docs/FSCK.md).
public struct CheckReport: Sendable, Equatable, Encodable {
    /// The volume's format version (klfs.conf's `version`), which decides
    /// the header record its files must carry.
    public let formatVersion: Int
    public internal(set) var findings: [CheckFinding] = []
    public internal(set) var counts = CheckCounts()

    public init(formatVersion: Int) {
        self.formatVersion = formatVersion
    }

    /// Damage only: notices describe states the format allows.
    public var problems: [CheckFinding] { findings.filter { $0.severity == .damage } }
    public var notices: [CheckFinding] { findings.filter { $0.severity == .notice } }
    public var isClean: Bool { problems.isEmpty }

    mutating func record(_ finding: CheckFinding) {
        findings.append(finding)
    }

    /// The line that closes the human report.
    public var summary: String {
        let c = counts
        let looked = "\(c.directories) directories, \(c.files) files (\(c.emptyFiles) empty), "
            + "\(c.sectors) sectors (\(c.holes) holes), \(c.otherEntries) other entries"
        let found = "\(problems.count) problem\(problems.count == 1 ? "" : "s"), "
            + "\(notices.count) notice\(notices.count == 1 ? "" : "s")"
        return "\(isClean ? "clean" : "damaged"): \(found); checked klfs.conf (format version \(formatVersion)), \(looked)"
    }
}

public struct CheckCounts: Sendable, Equatable, Encodable {
    public internal(set) var directories = 0
    /// Regular backing files, including empty ones.
    public internal(set) var files = 0
    /// Zero-length backing files: empty files whose header was never written.
    public internal(set) var emptyFiles = 0
    /// Symlinks, fifos, sockets and devices: stored as they are, nothing to check.
    public internal(set) var otherEntries = 0
    /// Sectors the sizes cover, holes included.
    public internal(set) var sectors = 0
    /// All-zero sectors, read as zeros without decryption.
    public internal(set) var holes = 0
    /// Plaintext bytes the sizes cover.
    public internal(set) var plaintextBytes = 0
}

/// One thing wrong, or worth knowing, about one path.
public struct CheckFinding: Sendable, Equatable, Encodable, CustomStringConvertible {
    public enum Severity: String, Sendable, Encodable {
        /// Data is unreadable, or may be wrong: fsck exits with "problems found".
        case damage
        /// Allowed by the format, but a sign of an interrupted write.
        case notice
    }

    public enum Kind: String, Sendable, Encodable {
        // Header (docs/FORMAT.md, "Validity").
        case truncatedHeader, badMagic, unknownVersion, versionMismatch, invalidSectorSize, sectorSizeMismatch
        case reservedBytesSet, sizeOutOfRange, sizeBeyondData
        /// A version 2 header whose sealed record does not open under this
        /// volume's header key and this file ID.
        case headerNotAuthentic
        /// Bytes 32 to S of the header slot, which klfs never writes, are not zero.
        case headerSlotNotZero
        /// The bytes after the size in the last sector do not decrypt to zeros.
        case tornLastSector
        /// The backing file is longer than the size needs.
        case extraLength
        /// A system call failed on this path (permissions, I/O error).
        case unreadable
    }

    public let path: String
    public let kind: Kind
    public let severity: Severity
    /// The plaintext sector concerned, if one is.
    public let sector: Int?
    public let message: String

    init(path: String, kind: Kind, severity: Severity = .damage, sector: Int? = nil, message: String) {
        self.path = path
        self.kind = kind
        self.severity = severity
        self.sector = sector
        self.message = message
    }

    /// The line in the human report: control characters in the path are
    /// escaped, so a file name cannot forge report lines.
    public var description: String {
        let shown = path.isEmpty ? "." : path.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7F ? $0.escaped(asASCII: true) : String($0)
        }.joined()
        return "\(shown): \(severity == .notice ? "notice: " : "")\(message)"
    }
}

extension CheckFinding.Kind {
    init(_ corruption: CipherFileCorruption) {
        switch corruption {
        case .truncatedHeader: self = .truncatedHeader
        case .badMagic: self = .badMagic
        case .unknownVersion: self = .unknownVersion
        case .versionMismatch: self = .versionMismatch
        case .invalidSectorSize: self = .invalidSectorSize
        case .sectorSizeMismatch: self = .sectorSizeMismatch
        case .reservedBytesSet: self = .reservedBytesSet
        case .sizeOutOfRange: self = .sizeOutOfRange
        case .sizeBeyondData: self = .sizeBeyondData
        case .notAuthentic: self = .headerNotAuthentic
        }
    }
}
