import CKLKernels
import Glibc

/// Where a ``SecretBytes`` allocation lives.
public enum SecretBacking: String, Sendable {
    /// memfd_secret(2): outside the kernel's direct map, unreadable through
    /// /proc/PID/mem, never in a core dump.
    case memfdSecret = "memfd_secret"
    /// Fallback: anonymous memory, mlock'ed, MADV_DONTDUMP, MADV_WIPEONFORK.
    case lockedAnonymous = "mlock+MADV_DONTDUMP+MADV_WIPEONFORK"

    init(_ backing: klfs_secret_backing) {
        self = backing == KLFS_SECRET_MEMFD_SECRET ? .memfdSecret : .lockedAnonymous
    }
}

/// A fixed-size buffer for key material, kept out of Swift collections so
/// that no copy escapes: locked, excluded from core dumps, wiped on `deinit`.
///
/// Bytes are reached only through `withUnsafe…` closures; the buffer is
/// never converted to an Array, Data or String.
public final class SecretBytes: @unchecked Sendable {
    public let count: Int
    public let backing: SecretBacking
    private let base: UnsafeMutableRawPointer

    /// Zeroed secret memory. `preferMemfdSecret` false forces the fallback
    /// (the aesni engine's key schedule must stay readable by its own code
    /// only, which either backing allows; tests use it to cover both).
    public init(count: Int, preferMemfdSecret: Bool = true) throws(EngineError) {
        precondition(count > 0, "secret buffers are never empty")
        var backing = KLFS_SECRET_LOCKED_ANONYMOUS
        guard let base = klfs_secret_alloc(count, preferMemfdSecret, &backing) else {
            throw .secretMemoryUnavailable(errno: errno)
        }
        self.count = count
        self.base = base
        self.backing = SecretBacking(backing)
    }

    /// A secret copy of `bytes` (a slice of another secret, say). The
    /// caller wipes the source.
    public convenience init(copying bytes: UnsafeRawBufferPointer) throws(EngineError) {
        try self.init(count: bytes.count)
        base.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    /// `count` bytes from getrandom(2).
    public static func random(count: Int) throws(EngineError) -> SecretBytes {
        let secret = try SecretBytes(count: count)
        let status = klfs_random_bytes(secret.base, count)
        guard status == 0 else { throw .randomUnavailable(errno: -status) }
        return secret
    }

    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    public func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// Zeroes the bytes now; the memory stays allocated.
    public func wipe() {
        klfs_wipe(base, count)
    }

    deinit {
        // The secret dies here if nobody wiped it earlier.
        klfs_secret_free(base, count)
    }
}
