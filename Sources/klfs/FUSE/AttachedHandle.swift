import CFuse

/// Per-open state kept in fuse_file_info.fh from open until
/// release: a retained object reference stored as an integer.
protocol AttachedHandle: AnyObject {}

extension AttachedHandle {
    func attach(to fi: UnsafeMutablePointer<fuse_file_info>) {
        fi.pointee.fh = UInt64(UInt(bitPattern: Unmanaged.passRetained(self).toOpaque()))
    }

    static func attached(to fi: UnsafeMutablePointer<fuse_file_info>?) -> Self {
        unmanaged(fi).takeUnretainedValue()
    }

    /// Drops the reference attach took; returns the handle for last uses.
    @discardableResult
    static func detach(from fi: UnsafeMutablePointer<fuse_file_info>?) -> Self {
        unmanaged(fi).takeRetainedValue()
    }

    private static func unmanaged(_ fi: UnsafeMutablePointer<fuse_file_info>?) -> Unmanaged<Self> {
        Unmanaged<Self>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(fi!.pointee.fh))!)
    }
}
