import Foundation
import Glibc

/// cryptsetup (Debian cryptsetup-bin) as the reference implementation:
/// it formats, dumps and checks passphrases on image files without
/// device-mapper.
public enum Cryptsetup {
    public struct Run {
        public var status: Int32
        public var output: String
        public var errors: String
    }

    public static let path = "/usr/sbin/cryptsetup"
    public static var available: Bool { access(path, X_OK) == 0 }

    @discardableResult
    public static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                   errors: String(decoding: err, as: UTF8.self))
    }

    /// Runs and requires exit status 0.
    @discardableResult
    public static func succeed(_ arguments: [String]) throws -> Run {
        let result = try run(arguments)
        guard result.status == 0 else {
            throw CryptsetupFailed(arguments: arguments, status: result.status, errors: result.errors)
        }
        return result
    }

    /// Fast KDF settings for cryptsetup-made keyslots.
    public static let fastArgon2id = ["--pbkdf", "argon2id", "--pbkdf-memory", "32", "--pbkdf-force-iterations", "4",
                               "--pbkdf-parallel", "2"]
    public static let fastArgon2i = ["--pbkdf", "argon2i", "--pbkdf-memory", "64", "--pbkdf-force-iterations", "4",
                              "--pbkdf-parallel", "3"]
    public static let fastPBKDF2 = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]

    /// A 20 MiB image formatted by cryptsetup with the passphrase in `keyFile`.
    public static func format(_ image: String, keyFile: String, extra: [String]) throws {
        try makeFile(image, size: 20 << 20)
        try succeed(["luksFormat", "--type", "luks2", "--batch-mode", "--key-file", keyFile] + extra + [image])
    }

    /// The volume key, as `luksDump --dump-volume-key` prints it.
    public static func volumeKey(_ image: String, keyFile: String) throws -> [UInt8] {
        let dump = try succeed(["luksDump", "--dump-volume-key", "--batch-mode", "--key-file", keyFile, image]).output
        guard let start = dump.range(of: "MK dump:") else { throw CryptsetupFailed(arguments: ["luksDump"], status: 0, errors: dump) }
        let hex = dump[start.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            .prefix { $0.count == 2 && UInt8($0, radix: 16) != nil }
        return hex.map { UInt8($0, radix: 16)! }
    }

    /// Whether cryptsetup opens keyslots of `image` with the passphrase in `keyFile`.
    public static func acceptsPassphrase(_ image: String, keyFile: String, keyslot: Int? = nil) throws -> Bool {
        let slot = keyslot.map { ["--key-slot", String($0)] } ?? []
        return try run(["open", "--test-passphrase", "--batch-mode", "--key-file", keyFile] + slot + [image]).status == 0
    }
}

public struct CryptsetupFailed: Error, CustomStringConvertible {
    public var arguments: [String]
    public var status: Int32
    public var errors: String
    public var description: String { "cryptsetup \(arguments.joined(separator: " ")) exited \(status): \(errors)" }
}

public func makeFile(_ path: String, size: Int) throws {
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0, ftruncate(fd, off_t(size)) == 0 else { throw CryptsetupFailed(arguments: ["create", path], status: errno, errors: "") }
    close(fd)
}

