import Foundation
import Glibc

/// The few unix socket calls the control socket's two ends share.
enum UnixSocket {
    /// A new stream socket, close-on-exec.
    static func make() throws(SystemError) -> Int32 {
        try checked(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
    }

    /// Runs `body` with `path` as a socket address; ENAMETOOLONG when it
    /// does not fit in sun_path.
    static func withAddress<R>(_ path: String,
                               _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws(SystemError) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw SystemError(ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// Writes all of `data`.
    static func send(_ data: Data, to fd: Int32) throws(SystemError) {
        // Data.withUnsafeBytes rethrows untyped errors: the failure is
        // carried out by hand.
        var failure: SystemError?
        data.withUnsafeBytes { bytes in
            do throws(SystemError) { try send(bytes, to: fd) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes all of `bytes` (a secret's, straight from secret memory).
    static func send(_ bytes: UnsafeRawBufferPointer, to fd: Int32) throws(SystemError) {
        var sent = 0
        while sent < bytes.count {
            let count = Glibc.send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            if count < 0 && errno == EINTR { continue }
            sent += try checked(count)
        }
    }

    /// Fills `buffer` from `fd`; false at an early end of stream.
    static func receive(into buffer: UnsafeMutableRawBufferPointer, from fd: Int32) throws(SystemError) -> Bool {
        var filled = 0
        while filled < buffer.count {
            let count = recv(fd, buffer.baseAddress! + filled, buffer.count - filled, 0)
            if count < 0 && errno == EINTR { continue }
            if try checked(count) == 0 { return false }
            filled += count
        }
        return true
    }

    /// One line (without its "\n") of at most `limit` bytes, read a byte at
    /// a time so that nothing after it (a secret) is consumed; nil at the
    /// end of the stream or past the limit.
    static func receiveLine(from fd: Int32, limit: Int) throws(SystemError) -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count <= limit {
            let complete = try withUnsafeMutableBytes(of: &byte) { buffer throws(SystemError) in
                try receive(into: buffer, from: fd)
            }
            guard complete else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return nil
    }

    /// Gives up on a peer that sends or reads nothing for `seconds`.
    static func setTimeout(_ fd: Int32, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}
