import Foundation

/// The volume key libcryptsetup itself derives for `cryptsetup open --type
/// plain --cipher aes-xts-plain64 --key-size 512 --hash HASH`: cryptsetup
/// cannot open a mapping here (no device-mapper), so python3 calls
/// libcryptsetup.so.12 through ctypes: crypt_format(CRYPT_PLAIN) on a
/// scratch file, then crypt_volume_key_get with the passphrase, which runs
/// the same crypt_plain_hash as an open. The oracle of image mode's tests.
public enum CryptsetupPlainKey {
    public enum Failure: Error, CustomStringConvertible {
        case python(status: Int32, message: String)
        public var description: String {
            switch self {
            case .python(let status, let message): return "libcryptsetup oracle failed (\(status)): \(message)"
            }
        }
    }

    /// `hash` is cryptsetup's name ("ripemd160", "sha256", ... or "plain":
    /// the passphrase bytes as they are, which is what cryptsetup makes of
    /// a --key-file in plain mode).
    public static func derive(hash: String, passphrase: [UInt8]) throws -> [UInt8] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cryptsetup-oracle-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: scratch.path, contents: Data(count: 1 << 20))
        defer { try? FileManager.default.removeItem(at: scratch) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, scratch.path, hash]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(passphrase.map { String(format: "%02x", $0) }.joined().utf8))
        try input.fileHandleForWriting.close()
        let hex = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure.python(status: process.terminationStatus, message: message) }
        let digits = Array(hex.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    private static let script = """
        import ctypes, sys
        lib = ctypes.CDLL("libcryptsetup.so.12")
        class Plain(ctypes.Structure):
            _fields_ = [("hash", ctypes.c_char_p), ("offset", ctypes.c_uint64), ("skip", ctypes.c_uint64),
                        ("size", ctypes.c_uint64), ("sector_size", ctypes.c_uint32)]
        image, hash_name = sys.argv[1], sys.argv[2]
        passphrase = bytes.fromhex(sys.stdin.read())
        device = ctypes.c_void_p()
        if lib.crypt_init(ctypes.byref(device), image.encode()) != 0: sys.exit("crypt_init failed")
        params = Plain(hash_name.encode(), 0, 0, 0, 512)
        status = lib.crypt_format(device, b"PLAIN", b"aes", b"xts-plain64", None, None, ctypes.c_size_t(64), ctypes.byref(params))
        if status != 0: sys.exit("crypt_format: %d" % status)
        key = ctypes.create_string_buffer(64)
        size = ctypes.c_size_t(64)
        status = lib.crypt_volume_key_get(device, -1, key, ctypes.byref(size), passphrase, ctypes.c_size_t(len(passphrase)))
        if status < 0: sys.exit("crypt_volume_key_get: %d" % status)
        lib.crypt_free(device)
        print(key.raw[:size.value].hex())
        """
}
