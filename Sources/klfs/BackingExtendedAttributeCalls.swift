import CFuse
import Glibc
import KLBlock

/// ``BackingExtendedAttributes`` through the f*xattr system calls, for
/// `klfs upgrade`. Values and name lists fit in 64 KiB, the kernel's
/// XATTR_SIZE_MAX and XATTR_LIST_MAX.
struct BackingExtendedAttributeCalls: BackingExtendedAttributes {
    func names(of fd: Int32) throws(CipherFileError) -> [[UInt8]] {
        let list = try whole("flistxattr") { buffer, capacity in
            flistxattr(fd, buffer?.assumingMemoryBound(to: CChar.self), capacity)
        }
        return list.split(separator: 0).map(Array.init)
    }

    func value(of name: [UInt8], on fd: Int32) throws(CipherFileError) -> [UInt8] {
        let name = nulTerminated(name)
        return try whole("fgetxattr") { buffer, capacity in fgetxattr(fd, name, buffer, capacity) }
    }

    func set(_ name: [UInt8], to value: [UInt8], on fd: Int32) throws(CipherFileError) {
        guard fsetxattr(fd, nulTerminated(name), value, value.count, 0) == 0 else {
            throw .system(call: "fsetxattr", errno: errno)
        }
    }

    func remove(_ name: [UInt8], from fd: Int32) throws(CipherFileError) {
        guard fremovexattr(fd, nulTerminated(name)) == 0 else { throw .system(call: "fremovexattr", errno: errno) }
    }

    private func whole(_ call: String,
                       _ body: (UnsafeMutableRawPointer?, Int) -> Int) throws(CipherFileError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: Int(XATTR_SIZE_MAX))
        let length = buffer.withUnsafeMutableBytes { body($0.baseAddress, $0.count) }
        guard length >= 0 else { throw .system(call: call, errno: errno) }
        return Array(buffer[..<length])
    }

    private func nulTerminated(_ name: [UInt8]) -> [CChar] { name.map { CChar(bitPattern: $0) } + [0] }
}
