import CSodium
import KLEngine

/// sodium_init, once per process, before any other libsodium call (Swift
/// initializes globals lazily and thread-safely).
private let sodiumInitialized: Bool = sodium_init() >= 0

func requireSodium() {
    precondition(sodiumInitialized, "libsodium failed to initialize")
}

/// Random public bytes (salts, nonces) from libsodium's getrandom-backed source.
func publicRandomBytes(_ count: Int) -> [UInt8] {
    requireSodium()
    var bytes = [UInt8](repeating: 0, count: count)
    randombytes_buf(&bytes, count)
    return bytes
}

/// Constant-time equality of two secrets of the same size.
func secretsEqual(_ a: SecretBytes, _ b: SecretBytes) -> Bool {
    guard a.count == b.count else { return false }
    return a.withUnsafeBytes { x in
        b.withUnsafeBytes { y in sodium_memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
    }
}
