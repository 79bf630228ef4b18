/// The JSON metadata as typed values: what klfs reads to open an image and
/// what `dump` shows. Parsing keeps every object it finds, including the
/// ones klfs cannot use (a reencrypt keyslot, an integrity segment), so
/// that the support check (``LUKS2Metadata/requireSupported()``) can name
/// them instead of skipping them.
public struct LUKS2Metadata: Sendable, Equatable {
    public var keyslots: [Int: LUKS2Keyslot]
    public var digests: [Int: LUKS2Digest]
    public var segments: [Int: LUKS2Segment]
    public var tokens: [Int: LUKS2Token]
    public var config: LUKS2Config
}

public struct LUKS2Keyslot: Sendable, Equatable {
    /// cryptsetup's keyslot priorities: 0 is tried only when named, 2 before 1.
    public enum Priority: Int, Sendable { case ignore = 0, normal = 1, high = 2 }

    public struct AntiForensic: Sendable, Equatable {
        /// "luks1": the LUKS1 AF splitter.
        public var type: String
        public var stripes: Int
        public var hash: String
    }

    public struct Area: Sendable, Equatable {
        /// "raw" for passphrase keyslots.
        public var type: String
        public var offset: UInt64
        public var size: UInt64
        public var encryption: String?
        public var keySize: Int?
    }

    public var id: Int
    /// "luks2" for passphrase keyslots; "reencrypt" during a reencryption.
    public var type: String
    /// The volume key's size in bytes.
    public var keySize: Int
    public var priority: Priority
    public var antiForensic: AntiForensic?
    public var area: Area?
    public var kdf: LUKS2KDFParameters?
}

/// How a keyslot's passphrase becomes the key of its area.
public enum LUKS2KDFParameters: Sendable, Equatable {
    case pbkdf2(hash: String, iterations: Int, salt: [UInt8])
    /// `memoryKiB` in KiB and `threads` lanes, as the JSON stores them.
    case argon2(LUKS2Argon2Variant, time: Int, memoryKiB: Int, threads: Int, salt: [UInt8])
    /// A KDF klfs does not know; opening refuses it.
    case unknown(type: String)

    public var typeName: String {
        switch self {
        case .pbkdf2: return "pbkdf2"
        case .argon2(let variant, _, _, _, _): return variant.rawValue
        case .unknown(let type): return type
        }
    }
}

public enum LUKS2Argon2Variant: String, Sendable { case argon2i, argon2id }

/// A check value of the volume key: PBKDF2 over the key, which the
/// keyslots it lists must reproduce.
public struct LUKS2Digest: Sendable, Equatable {
    public var id: Int
    /// "pbkdf2" is the only type the specification defines.
    public var type: String
    public var keyslots: [Int]
    public var segments: [Int]
    public var hash: String
    public var iterations: Int
    public var salt: [UInt8]
    public var value: [UInt8]
}

public struct LUKS2Segment: Sendable, Equatable {
    public enum Size: Sendable, Equatable {
        /// To the end of the image.
        case dynamic
        case bytes(UInt64)
    }

    public var id: Int
    /// "crypt" for encrypted data; "linear" appears during reencryption.
    public var type: String
    /// Where the segment starts in the image, in bytes.
    public var offset: UInt64
    public var size: Size
    /// Added to the sector number to form the XTS tweak.
    public var ivTweak: UInt64
    /// The dm-crypt cipher specification, "aes-xts-plain64".
    public var encryption: String
    public var sectorSize: Int
    /// The dm-integrity type when the segment is authenticated.
    public var integrity: String?
    public var flags: [String]
}

public struct LUKS2Token: Sendable, Equatable {
    public var id: Int
    public var type: String
    public var keyslots: [Int]
}

public struct LUKS2Config: Sendable, Equatable {
    public var jsonSize: UInt64
    public var keyslotsSize: UInt64
    public var flags: [String]
    /// requirements.mandatory: features a tool must implement to touch the image.
    public var mandatoryRequirements: [String]
}
