/// What `klfs status` shows of one mount, as the daemon reports it.
struct StatusReport: Codable {
    var mountPoint: String
    /// The cipher dir, or the image of an image mount.
    var cipherDir: String
    /// "directory" or "image" (absent from daemons older than image mode).
    var mode: String?
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

struct HandleRestrictionReport: Codable {
    var data: [String]
    var tweak: [String]
}

struct IWKeyReport: Codable {
    var keySource: UInt8
    var keySourceName: String
    var noBackup: Bool
}
