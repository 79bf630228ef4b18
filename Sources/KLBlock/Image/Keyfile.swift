import Glibc
import KLEngine

/// A keyfile's bytes in secret memory, as cryptsetup reads --key-file with
/// --keyfile-offset and --keyfile-size: front to back, the offset skipped
/// by reading where the file cannot seek, so a pipe (`<(…)`, `/dev/stdin`)
/// works as well as a regular file.
public enum Keyfile {
    /// How much of a keyfile is read when no size is given (cryptsetup's
    /// default keyfile_size_max, 8 MiB).
    public static let defaultSizeLimit = 8 << 20

    /// `count` bytes from `offset` (plain mode's key), or, with `count`
    /// nil, every byte from `offset` to the end of the file within
    /// `sizeLimit` (a LUKS2 passphrase).
    static func read(path: String, offset: Int, sizeLimit: Int?, count wanted: Int? = nil) throws(ImageError) -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        try skip(offset, of: fd, path: path)
        let limit = min(sizeLimit ?? defaultSizeLimit, wanted ?? Int.max)
        guard let bytes = try readToEnd(of: fd, path: path, limit: limit) else {
            throw .keyfileTooShort(path: path, needed: wanted ?? 1, available: 0)
        }
        if let wanted, bytes.count < wanted {
            // A partly read key dies here.
            bytes.wipe()
            throw .keyfileTooShort(path: path, needed: wanted, available: bytes.count)
        }
        return bytes
    }

    /// Moves past the first `offset` bytes: a seek, or reads into secret
    /// scratch where the file cannot seek (the bytes skipped may be
    /// someone's secret too; they die with the scratch).
    private static func skip(_ offset: Int, of fd: Int32, path: String) throws(ImageError) {
        guard offset > 0 else { return }
        if lseek(fd, off_t(offset), SEEK_SET) >= 0 { return }
        guard errno == ESPIPE else { throw .system(call: "lseek", path: path, errno: errno) }
        let scratch = try secretBytes(count: min(offset, 1 << 16))
        var left = offset
        while left > 0 {
            let got = scratch.withUnsafeMutableBytes { buffer in
                POSIXIO.readFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<min(left, buffer.count)]))
            }
            if got < 0 { throw .system(call: "read", path: path, errno: Int32(-got)) }
            if got == 0 { return }  // the file ends inside the offset: nothing left to read
            left -= got
        }
    }

    /// Every byte up to the end of the file or `limit`, in secret memory of
    /// exactly that size (nil when there were none). The buffer grows by
    /// doubling; each outgrown one dies (wiped) when released.
    private static func readToEnd(of fd: Int32, path: String, limit: Int) throws(ImageError) -> SecretBytes? {
        var buffer = try secretBytes(count: max(min(limit, 4096), 1))
        var filled = 0
        while filled < limit {
            if filled == buffer.count {
                let larger = try secretBytes(count: min(buffer.count * 2, limit))
                copy(filled, from: buffer, to: larger)
                buffer = larger
            }
            let got = buffer.withUnsafeMutableBytes { bytes in
                POSIXIO.readFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: bytes[filled...]))
            }
            if got < 0 { throw .system(call: "read", path: path, errno: Int32(-got)) }
            if got == 0 { break }
            filled += got
        }
        guard filled > 0 else { return nil }
        guard filled < buffer.count else { return buffer }
        let exact = try secretBytes(count: filled)
        copy(filled, from: buffer, to: exact)
        return exact
    }

    private static func copy(_ count: Int, from source: SecretBytes, to destination: SecretBytes) {
        source.withUnsafeBytes { from in
            destination.withUnsafeMutableBytes { to in
                to.baseAddress!.copyMemory(from: from.baseAddress!, byteCount: count)
            }
        }
    }

    private static func secretBytes(count: Int) throws(ImageError) -> SecretBytes {
        do throws(EngineError) { return try SecretBytes(count: count) } catch { throw .engine(error) }
    }
}
