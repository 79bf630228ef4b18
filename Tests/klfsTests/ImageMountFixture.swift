import Foundation
import Glibc
import KLTestSupport
import Testing

/// An image (plain, or LUKS2 with cheap KDF costs) in a temporary
/// directory, a mount point, a passfile and a keyfile holding the same
/// passphrase (cryptsetup's --key-file: no newline); opened through the
/// real `klfs image open`. ``tearDown()`` undoes
/// everything a test may have left (ext4 mounts, loop devices, the image
/// mount, the files) and runs in a defer, on failure too.
final class ImageMountFixture {
    let directory: String
    let image: String
    let mountPoint: String
    let passfile: String
    /// The passphrase without a newline, for cryptsetup's --key-file.
    let keyfile: String
    /// "plain" or "luks2".
    let type: String
    static let passphrase = "plain mode passphrase"
    /// ext4 mount points the test made (unmounted first at tear-down).
    private var ext4MountPoints: [String] = []

    /// Formats the image with `klfs image format --size size` unless
    /// `format` is false (the test makes it, with cryptsetup say); a LUKS2
    /// one with the passfile and `formatOptions`.
    init(size: String = "64M", type: String = "plain", format: Bool = true, formatOptions: [String] = []) throws {
        directory = NSTemporaryDirectory() + "klfs-image-\(UUID().uuidString.prefix(8))"
        image = directory + "/image"
        mountPoint = directory + "/plain"
        passfile = directory + "/passfile"
        keyfile = directory + "/keyfile"
        self.type = type
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try (Self.passphrase + "\n").write(toFile: passfile, atomically: true, encoding: .utf8)
        try Self.passphrase.write(toFile: keyfile, atomically: true, encoding: .utf8)
        guard format else { return }
        let luks2 = type == "luks2" ? ["--passfile", passfile] + Cryptsetup.fastArgon2id : []
        let result = try runKLFS(["image", "format", image, "--type", type, "--size", size] + luks2 + formatOptions)
        try #require(result.status == 0, "format failed: \(result.standardError)")
    }

    var device: String { mountPoint + "/device" }

    /// `klfs image open --type TYPE` with the passfile unless `key` names
    /// another source; `extra` comes last; `input` is its standard input.
    @discardableResult
    func open(_ extra: [String] = [], key: [String]? = nil, engine: String = "keylocker-soft",
              input: String = "") throws -> CommandResult {
        try runKLFS(["image", "open", image, mountPoint, "--type", type, "--engine", engine]
                    + (key ?? ["--passfile", passfile]) + extra, input: input)
    }

    func requireOpen(_ extra: [String] = [], key: [String]? = nil) throws {
        let result = try open(extra, key: key)
        try #require(result.status == 0, "image open failed: \(result.standardError)")
    }

    /// The image's bytes, to show that a failed command left it as it was.
    func imageContents() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: image)) }

    var isMounted: Bool { mountedPaths().contains(mountPoint) }

    /// `losetup -f --show` of the plaintext file.
    func attachLoop() throws -> String {
        let result = try tool("/usr/sbin/losetup", ["-f", "--show", device])
        try #require(result.status == 0, "losetup failed: \(result.standardError)")
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Mounts `loop` (ext4) on a directory of the fixture.
    func mountExt4(_ loop: String, options: String = "rw") throws -> String {
        let target = directory + "/ext4"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let result = try tool("/usr/bin/mount", ["-t", "ext4", "-o", options, loop, target])
        try #require(result.status == 0, "mount failed: \(result.standardError)")
        ext4MountPoints.append(target)
        return target
    }

    func unmountExt4(_ target: String) throws {
        let result = try tool("/usr/bin/umount", [target])
        try #require(result.status == 0, "umount failed: \(result.standardError)")
        ext4MountPoints.removeAll { $0 == target }
    }

    /// Detaches every loop device backed by the plaintext file.
    func detachLoops() {
        guard let listing = try? tool("/usr/sbin/losetup", ["-j", device]) else { return }
        for line in listing.standardOutput.split(separator: "\n") {
            guard let name = line.split(separator: ":").first else { continue }
            _ = try? tool("/usr/sbin/losetup", ["-d", String(name)])
        }
    }

    /// `klfs image close`, falling back to a lazy fusermount3 and SIGKILL.
    func close() {
        guard isMounted else { return }
        let daemon = daemonPID()
        if (try? runKLFS(["image", "close", mountPoint]))?.status != 0 {
            _ = try? tool("/usr/bin/fusermount3", ["-u", "-z", mountPoint])
            if let daemon { kill(daemon, SIGKILL) }
        }
        waitForDaemonExit(daemon)
    }

    func tearDown() {
        for target in ext4MountPoints.reversed() { _ = try? tool("/usr/bin/umount", ["-l", target]) }
        detachLoops()
        close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func daemonPID() -> pid_t? { klfsDaemon(serving: mountPoint) }

    /// The image's allocated bytes (st_blocks).
    func allocatedBytes() -> Int {
        var status = stat()
        return stat(image, &status) == 0 ? Int(status.st_blocks) * 512 : -1
    }

    func tool(_ path: String, _ arguments: [String]) throws -> CommandResult {
        try runCommand(URL(fileURLWithPath: path), arguments)
    }
}

/// The plaintext of `image`'s payload (from `offset` 512-byte sectors)
/// decrypted by OpenSSL with `key`, with dm-crypt's IVs for plain mode.
func decryptPlainImage(_ image: String, key: [UInt8], offset: Int, skip: UInt64, sectorSize: Int,
                       largeSectors: Bool = false) throws -> [UInt8] {
    let contents = try Data(contentsOf: URL(fileURLWithPath: image))
    return DmCryptPlain64.decrypt(Array(contents[(offset * 512)...]), key: key, sectorSize: sectorSize, ivOffset: skip,
                                  largeSectors: largeSectors)
}
