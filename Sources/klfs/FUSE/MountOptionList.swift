/// The `-o` options of `klfs mount`, as a user types them or as
/// mount.fuse3 passes them from /etc/fstab (`-o passfile=F,rw,dev,suid`).
struct MountOptionList {
    var readOnly = false
    /// allow_other: other users may use the mount; implies default_permissions,
    /// so that the kernel checks mode bits for them.
    var allowOther = false
    var defaultPermissions = false
    /// writeback_cache: let the kernel cache writes (faster; see
    /// FilesystemOptions.writebackCache for what it costs).
    var writebackCache = false
    /// xattr: serve extended attributes (encrypted on version 2 volumes;
    /// see FilesystemOptions.extendedAttributes).
    var extendedAttributes = false
    var passfile: String?
    var masterkey: String?
    var engine: String?
    /// xts_kernel=NAME: as --xts-kernel.
    var xtsKernel: String?
    /// klfs_dev: device nodes in the mount work (the mount is `dev`).
    var allowsDevices = false
    /// klfs_suid: set-user-ID and set-group-ID bits take effect (`suid`).
    var allowsSetID = false
    /// workers=N: threads serving requests (nil: the mount's default).
    var workers: UInt32?
    /// Generic mount flags handed to libfuse unchanged.
    var flags: [String] = []

    /// Mount flags libfuse applies itself.
    static let genericFlags: Set<String> = [
        "exec", "noexec", "async", "sync", "dirsync",
        "atime", "noatime", "relatime", "norelatime", "strictatime", "nostrictatime",
    ]

    /// Taken and ignored: mount.fuse3 adds `dev,suid` to every fstab
    /// mount not marked `nodev,nosuid`, so they say nothing about what the
    /// user wants. A klfs mount is nodev,nosuid unless `klfs_dev` or
    /// `klfs_suid` asks otherwise (docs/FUSE.md, "fstab").
    static let ignoredFlags: Set<String> = ["dev", "suid"]

    static let mostWorkers: UInt32 = 256

    /// `values` are the arguments of every `-o`, each comma-separated.
    init(parsing values: [String]) throws(CommandFailure) {
        for option in values.flatMap({ $0.split(separator: ",") }).map(String.init) {
            let (name, value) = Self.split(option)
            switch (name, value) {
            case ("ro", nil): readOnly = true
            case ("rw", nil): readOnly = false
            case ("allow_other", nil): allowOther = true
            case ("default_permissions", nil): defaultPermissions = true
            case ("writeback_cache", nil): writebackCache = true
            case ("xattr", nil): extendedAttributes = true
            case ("passfile", let path?): passfile = path
            case ("masterkey", let path?): masterkey = path
            case ("engine", let choice?): engine = choice
            case ("xts_kernel", let name?): xtsKernel = name
            case ("workers", let count?):
                guard let count = UInt32(count), (1...Self.mostWorkers).contains(count) else {
                    throw CommandFailure(.usage, "workers=\(count): give 1 to \(Self.mostWorkers) threads")
                }
                workers = count
            case ("klfs_dev", nil): allowsDevices = true
            case ("nodev", nil): allowsDevices = false
            case ("klfs_suid", nil): allowsSetID = true
            case ("nosuid", nil): allowsSetID = false
            case (let flag, nil) where Self.ignoredFlags.contains(flag): break
            case (let flag, nil) where Self.genericFlags.contains(flag): flags.append(flag)
            default: throw CommandFailure(.usage, "unknown mount option '\(option)'")
            }
        }
    }

    private static func split(_ option: String) -> (String, String?) {
        guard let equals = option.firstIndex(of: "=") else { return (option, nil) }
        return (String(option[..<equals]), String(option[option.index(after: equals)...]))
    }

    /// The `-o` string for libfuse: the flags above plus fsname and subtype,
    /// so that mountinfo shows "fuse.klfs CIPHERDIR".
    func libfuseOptions(source: String) -> String {
        var options = ["fsname=" + escaped(source), "subtype=klfs"]
        options.append(allowsDevices ? "dev" : "nodev")
        options.append(allowsSetID ? "suid" : "nosuid")
        if readOnly { options.append("ro") }
        if allowOther { options.append("allow_other") }
        if allowOther || defaultPermissions { options.append("default_permissions") }
        return (options + flags).joined(separator: ",")
    }

    /// libfuse's option parser takes "\," for a comma inside a value.
    private func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ",", with: "\\,")
    }
}
