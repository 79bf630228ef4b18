import Foundation
import Glibc
import Testing

/// What the key-state tests ask of a mount: its status over the control
/// socket, and reads and listings that report their errno.
extension VolumeFixture {
    /// `klfs status MOUNTPOINT --json`, decoded.
    func status() throws -> [String: Any] {
        let result = try runKLFS(["status", mountPoint, "--json"])
        try #require(result.status == 0, "status failed: \(result.standardError)")
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        return try #require(object as? [String: Any])
    }

    func state() throws -> String? { try status()["state"] as? String }

    func resume(passfile: String? = nil) throws -> CommandResult {
        try runKLFS(["resume", mountPoint, "--passfile", passfile ?? self.passfile])
    }

    func requireResume() throws {
        let result = try resume()
        try #require(result.status == 0, "resume failed: \(result.standardError)")
    }

    func control(_ command: String, _ extra: [String] = []) throws {
        let result = try runKLFS([command, mountPoint] + extra)
        try #require(result.status == 0, "\(command) failed: \(result.standardError)")
    }
}

/// The contents of `path`, read past the page cache (its clean pages are
/// dropped first, so that the read reaches the daemon), or the errno of
/// the open or read that failed.
func uncachedContents(_ path: String) -> Result<Data, SystemErrno> {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return .failure(SystemErrno(errno)) }
    defer { close(fd) }
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count < 0 { return .failure(SystemErrno(errno)) }
        if count == 0 { return .success(data) }
        data.append(contentsOf: buffer[..<count])
    }
}

/// The entries of the directory `path`, or the errno that ended the listing.
func listing(_ path: String) -> Result<[String], SystemErrno> {
    guard let directory = opendir(path) else { return .failure(SystemErrno(errno)) }
    defer { closedir(directory) }
    var names: [String] = []
    while true {
        errno = 0
        guard let entry = readdir(directory) else {
            return errno == 0 ? .success(names) : .failure(SystemErrno(errno))
        }
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
        if name != "." && name != ".." { names.append(name) }
    }
}

struct SystemErrno: Error, Equatable, CustomStringConvertible {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { "errno \(code) (\(String(cString: strerror(code))))" }
}
