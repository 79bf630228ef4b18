import Glibc

/// The 16-byte random EME tweak of one backing directory, in the file
/// `klfs.diriv` inside it (mode 0400), written once when the directory is
/// made and never changed. Public: it only makes identical names in
/// different directories encrypt differently.
public enum DirectoryIV {
    public static let fileName = "klfs.diriv"
    public static let size = 16

    /// A fresh random IV.
    public static func random() -> [UInt8] { publicRandomBytes(size) }

    /// Writes `iv` as the IV of the directory `directoryFD` (a read-only
    /// descriptor on it: fsync refuses O_PATH). Fails with EEXIST if it has
    /// one; any other failure leaves no IV file behind.
    ///
    /// The IV and its name reach stable storage before this returns (fsync
    /// of the file, then of the directory): a directory that outlived a
    /// crash without its IV would hold names nobody can decrypt.
    public static func write(_ iv: [UInt8], in directoryFD: Int32) -> Int32 {
        let fd = openat(directoryFD, fileName, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o400)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var status = iv.withUnsafeBytes { POSIXIO.writeAll(fd, $0) }
        if status == 0 && (fsync(fd) != 0 || fsync(directoryFD) != 0) { status = errno }
        if status != 0 { unlinkat(directoryFD, fileName, 0) }
        return status
    }

    /// The IV of the directory `directoryFD`; an errno when the file is
    /// missing or unreadable, EIO when it is not 16 bytes.
    public static func read(in directoryFD: Int32) -> Result<[UInt8], DirectoryIVError> {
        let fd = openat(directoryFD, fileName, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return .failure(DirectoryIVError(errno: errno)) }
        defer { close(fd) }
        var iv = [UInt8](repeating: 0, count: size + 1)
        let got = iv.withUnsafeMutableBytes { POSIXIO.readFully(fd, into: $0) }
        if got < 0 { return .failure(DirectoryIVError(errno: Int32(-got))) }
        guard got == size else { return .failure(DirectoryIVError(errno: EIO)) }
        return .success(Array(iv.prefix(size)))
    }
}

public struct DirectoryIVError: Error {
    public let errno: Int32
}
