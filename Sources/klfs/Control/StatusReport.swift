/// What `klfs status` shows of one mount, as the daemon reports it.
struct StatusReport: Codable {
    var mountPoint: String
    /// The cipher dir, or the image of an image mount.
    var cipherDir: String
    /// "directory" or "image" (absent from daemons older than image mode).
    var mode: String?
    /// An image mount's format and layout (absent for directories, and
    /// from daemons older than LUKS2 image mode).
    var image: ImageStatusReport?
    var pid: Int32
    var state: VolumeState
    /// Why it is suspended or locked.
    var cause: LockCause?
    var engine: String
    /// The XTS kernel the engine runs, when it reports one.
    var xtsKernel: String?
    /// Key Locker handle restrictions (data and tweak handles); nil for aesni.
    var handleRestrictions: HandleRestrictionReport?
    /// ENCODEKEY's report on the IWKey of the last unlock; nil for aesni.
    var iwkey: IWKeyReport?
    var uptimeSeconds: Double
    /// Requests by FUSE operation.
    var requests: [String: UInt64]
    var bytesRead: UInt64
    var bytesWritten: UInt64
    var sectorsEncrypted: UInt64
    var sectorsDecrypted: UInt64
    var handleFailures: UInt64
}

/// An image mount's format, the LUKS2 keyslot its last unlock opened,
/// and its sector layout.
struct ImageStatusReport: Codable {
    /// "luks2" or "plain".
    var type: String
    /// The keyslot that opened the volume key (LUKS2), nil for plain.
    var keyslot: Int?
    var sectorSize: Int
    /// Bytes from the start of the image to the first encrypted sector.
    var payloadOffset: Int
    /// dm-crypt's iv_offset in 512-byte sectors (plain --skip, LUKS2 iv_tweak).
    var ivOffset: UInt64
}

struct HandleRestrictionReport: Codable {
    var data: [String]
    var tweak: [String]
}

struct IWKeyReport: Codable {
    var keySource: UInt8
    var keySourceName: String
    var noBackup: Bool
}
