import CSodium
import Foundation
import Glibc
import KLBlock
import KLEngine
import Testing

/// klfs's EME is gocryptfs's: names gocryptfs writes (mounted with its
/// all-zero test key) decrypt with klfs's NameCipher given gocryptfs's name
/// key, and encrypt back to the same text; long names hash alike.
@Suite struct GocryptfsNameTests {
    @Test func namesWrittenByGocryptfsDecryptWithKlfsEME() throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("klfs-gocryptfs-\(UUID().uuidString.prefix(8))")
        let cipherDir = root.appendingPathComponent("cipher").path, mountPoint = root.appendingPathComponent("plain").path
        for path in [cipherDir, mountPoint] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        defer { try? FileManager.default.removeItem(at: root) }
        let iv = (0..<16).map { _ in UInt8.random(in: 0...255) }
        try Data(iv).write(to: URL(fileURLWithPath: cipherDir + "/gocryptfs.diriv"))

        let names = ["Quarterly report, 2026 (final).ods", "a", String(repeating: "x", count: 16),
                     String(repeating: "L", count: 230), "naïve ünïcödé"]
        try run("/usr/bin/gocryptfs", ["-zerokey", "-q", cipherDir, mountPoint])
        do {
            defer { try? run("/usr/bin/fusermount3", ["-u", mountPoint]) }
            for name in names { #expect(FileManager.default.createFile(atPath: mountPoint + "/" + name, contents: nil)) }
        }

        let cipher = NameCipher(key: try AESNIEngine().makeBlockKey(try gocryptfsNameKey()))
        var decoded: [String] = []
        for entry in try FileManager.default.contentsOfDirectory(atPath: cipherDir) {
            if entry == "gocryptfs.diriv" || entry.hasSuffix(".name") { continue }
            let isLong = entry.hasPrefix("gocryptfs.longname.")
            let encoded = isLong ? try String(contentsOfFile: cipherDir + "/" + entry + ".name", encoding: .utf8) : entry
            let plain = try cipher.decrypt(encoded.utf8, directoryIV: iv)
            #expect(try cipher.encrypt(plain, directoryIV: iv) == encoded)
            if isLong {
                #expect(entry.dropFirst("gocryptfs.longname.".count) == LongName.hashedName(of: encoded).dropFirst(LongName.prefix.count))
            }
            decoded.append(String(decoding: plain, as: UTF8.self))
        }
        #expect(Set(decoded) == Set(names))
    }

    /// gocryptfs's name key: HKDF-SHA256 (RFC 5869, no salt) of its master
    /// key (32 zero bytes under -zerokey), info "EME filename encryption".
    private func gocryptfsNameKey() throws -> SecretBytes {
        let zeroSalt = [UInt8](repeating: 0, count: 32), masterKey = [UInt8](repeating: 0, count: 32)
        let prk = hmacSHA256(key: zeroSalt, masterKey)
        let okm = hmacSHA256(key: prk, Array("EME filename encryption".utf8) + [1])
        return try okm.withUnsafeBytes { try SecretBytes(copying: $0) }
    }

    private func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        precondition(sodium_init() >= 0)
        var state = crypto_auth_hmacsha256_state()
        var out = [UInt8](repeating: 0, count: 32)
        crypto_auth_hmacsha256_init(&state, key, key.count)
        crypto_auth_hmacsha256_update(&state, message, UInt64(message.count))
        crypto_auth_hmacsha256_final(&state, &out)
        return out
    }

    /// posix_spawn + waitpid: Foundation's Process would wait until the
    /// gocryptfs daemon, which keeps Process's internal descriptor, exits.
    private func run(_ tool: String, _ arguments: [String]) throws {
        var argv: [UnsafeMutablePointer<CChar>?] = ([tool] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0)
        }
        var pid: pid_t = 0
        try #require(posix_spawn(&pid, tool, &actions, nil, &argv, environ) == 0, "spawn \(tool)")
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        try #require(status == 0, "\(tool) \(arguments) exited with status \(status)")
    }
}
