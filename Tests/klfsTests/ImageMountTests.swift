import Dispatch
import Foundation
import Glibc
import KLEngine
import KLTestSupport
import Synchronization
import Testing

/// `klfs image` for real: sectors written through the mount decrypt with
/// OpenSSL under the key libcryptsetup derives, ext4 on a loop device over
/// the plaintext file survives a reopen and an fsck, fstrim punches holes,
/// concurrent writers agree with a model, and the file follows the image.
@Suite(.serialized) struct ImageMountTests {
    struct PlainCase: CustomStringConvertible, Sendable {
        /// nil: the key comes from a keyfile (read from byte 5).
        let hash: String?
        let sectorSize: Int
        let offset: Int
        let skip: UInt64
        var largeSectors = false
        var description: String {
            "\(hash ?? "keyfile") sector \(sectorSize) offset \(offset) skip \(skip)\(largeSectors ? " iv-large-sectors" : "")"
        }
    }

    static let plainCases = [PlainCase(hash: nil, sectorSize: 512, offset: 0, skip: 0),
                             PlainCase(hash: "ripemd160", sectorSize: 512, offset: 3, skip: 1000),
                             PlainCase(hash: "sha256", sectorSize: 4096, offset: 16, skip: 40),
                             PlainCase(hash: "ripemd160", sectorSize: 4096, offset: 8, skip: 64, largeSectors: true),
                             PlainCase(hash: nil, sectorSize: 4096, offset: 8, skip: 9)]

    /// Unaligned writes through MOUNTPOINT/device; after close, each sector
    /// of the image decrypts with OpenSSL, under cryptsetup's key and
    /// dm-crypt's IV, to what was written.
    @Test(arguments: plainCases)
    func sectorsDecryptWithCryptsetupsKey(_ plainCase: PlainCase) throws {
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        let keyfileBytes = (0..<100).map { UInt8(($0 * 73 + 5) & 0xFF) }
        let keyfile = fixture.directory + "/keyfile"
        try Data(keyfileBytes).write(to: URL(fileURLWithPath: keyfile))
        let key: [UInt8]
        var arguments = ["--offset", "\(plainCase.offset)", "--skip", "\(plainCase.skip)",
                         "--sector-size", "\(plainCase.sectorSize)"] + (plainCase.largeSectors ? ["--iv-large-sectors"] : [])
        if let hash = plainCase.hash {
            key = try CryptsetupPlainKey.derive(hash: hash, passphrase: Array(ImageMountFixture.passphrase.utf8))
            arguments += ["--hash", hash]
        } else {
            key = try CryptsetupPlainKey.derive(hash: "plain", passphrase: Array(keyfileBytes[5...]))
        }
        try fixture.requireOpen(arguments, key: plainCase.hash == nil ? ["--keyfile", keyfile, "--keyfile-offset", "5"] : nil)
        let model = try ImageContents.writeRandomly(fixture.device, seed: 3)
        fixture.close()
        #expect(!fixture.isMounted)
        let decrypted = try decryptPlainImage(fixture.image, key: key, offset: plainCase.offset, skip: plainCase.skip,
                                              sectorSize: plainCase.sectorSize, largeSectors: plainCase.largeSectors)
        #expect(ImageContents.firstDifferingSector(decrypted, model, sectorSize: plainCase.sectorSize) == nil)
    }

    /// For each image type: losetup, mkfs.ext4, a tree written and
    /// unmounted, the image closed and opened again: fsck.ext4 -fn finds nothing and the tree is the
    /// same. Deleting a large file and fstrim then frees image blocks.
    @Test(arguments: ["plain", "luks2"])
    func ext4OnALoopDeviceSurvivesAReopen(type: String) throws {
        let fixture = try ImageMountFixture(size: "64M", type: type)
        defer { fixture.tearDown() }
        try fixture.requireOpen()
        var loop = try fixture.attachLoop()
        let mkfs = try fixture.tool("/usr/sbin/mkfs.ext4", ["-q", "-F", loop])
        try #require(mkfs.status == 0, "mkfs.ext4: \(mkfs.standardError)")
        var target = try fixture.mountExt4(loop)
        let tree = try ImageContents.writeTree(under: target)
        try fixture.unmountExt4(target)
        fixture.detachLoops()
        fixture.close()
        try #require(!fixture.isMounted)

        try fixture.requireOpen()
        loop = try fixture.attachLoop()
        let fsck = try fixture.tool("/usr/sbin/fsck.ext4", ["-fn", loop])
        #expect(fsck.status == 0, "fsck.ext4 -fn: \(fsck.standardOutput) \(fsck.standardError)")
        target = try fixture.mountExt4(loop)
        #expect(try ImageContents.readTree(under: target) == tree)

        try FileManager.default.removeItem(atPath: target + "/large")
        _ = try fixture.tool("/usr/bin/sync", [])
        let before = fixture.allocatedBytes()
        let trim = try fixture.tool("/usr/sbin/fstrim", ["-v", target])
        #expect(trim.status == 0, "fstrim: \(trim.standardError)")
        #expect(fixture.allocatedBytes() < before - (6 << 20), "fstrim should punch the 8 MiB file's blocks out of the image")
    }

    /// Four threads write and read back their own 300-byte stripes (every
    /// 4th, so neighbours share sectors) through the mount; the end state
    /// is each stripe's last write, in the mount and in the image.
    @Test func concurrentWritersThroughTheMountMatchTheModel() throws {
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        try fixture.requireOpen()
        let fd = open(fixture.device, O_RDWR)
        try #require(fd >= 0)
        defer { Glibc.close(fd) }
        let stripe = 300, threads = 4, stripes = (1 << 20) / 300 / 4 * 4
        let models = Mutex<[Int: [UInt8]]>([:])
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var generator = SeededGenerator(seed: UInt64(thread) + 40)
            var owned: [Int: [UInt8]] = [:]
            for _ in 0..<300 {
                let index = Int.random(in: 0..<stripes / threads, using: &generator) * threads + thread
                let data = (0..<stripe).map { _ in UInt8.random(in: 0...255, using: &generator) }
                var back = [UInt8](repeating: 0, count: stripe)
                let wrote = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, stripe, off_t(index * stripe)) }
                let read = back.withUnsafeMutableBytes { pread(fd, $0.baseAddress, stripe, off_t(index * stripe)) }
                if wrote != stripe || read != stripe || back != data { failures.add(1, ordering: .relaxed) }
                owned[index] = data
            }
            models.withLock { $0.merge(owned) { first, _ in first } }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        var contents = [UInt8](repeating: 0, count: 1 << 20)
        #expect(contents.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) } == contents.count)
        for (index, data) in models.withLock({ $0 }) {
            #expect(Array(contents[index * stripe..<(index + 1) * stripe]) == data, "stripe \(index)")
        }
        let key = try CryptsetupPlainKey.derive(hash: "ripemd160", passphrase: Array(ImageMountFixture.passphrase.utf8))
        let decrypted = try decryptPlainImage(fixture.image, key: key, offset: 0, skip: 0, sectorSize: 512)
        for (index, data) in models.withLock({ $0 }) {
            #expect(Array(decrypted[index * stripe..<(index + 1) * stripe]) == data, "image stripe \(index)")
        }
    }

    /// Growing the image grows the plaintext file; truncating the
    /// plaintext file resizes the image; a fixed --size refuses.
    @Test func thePlaintextFileFollowsTheImage() throws {
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        try fixture.requireOpen(["--offset", "8"])
        #expect(fileSize(fixture.device) == (1 << 20) - 4096)
        #expect(truncate(fixture.image, 4 << 20) == 0)
        usleep(1_200_000)  // the kernel caches attributes for a second
        #expect(fileSize(fixture.device) == (4 << 20) - 4096)
        #expect(truncate(fixture.device, 2 << 20) == 0)
        #expect(fileSize(fixture.image) == (2 << 20) + 4096)
        #expect(truncate(fixture.device, 1000) == -1 && errno == EINVAL)
        fixture.close()
        try fixture.requireOpen(["--size", "100"])
        #expect(fileSize(fixture.device) == 100 * 512)
        #expect(truncate(fixture.device, 200 * 512) == -1 && errno == EINVAL)
    }

    private func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : -1
    }

    /// status shows the image mount; lock makes reads fail with
    /// EKEYREVOKED, resume with the passphrase brings them back. A wrong
    /// passphrase, which plain mode cannot tell from its hash, is refused
    /// by the check of the opened key, and the mount stays locked.
    @Test func statusLockAndResumeWorkOnImageMounts() throws {
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        try fixture.requireOpen()
        let status = try runKLFS(["status", "--json", fixture.mountPoint])
        #expect(status.status == 0, "\(status.standardError)")
        let report = try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any]
        #expect(report?["mode"] as? String == "image")
        #expect(report?["engine"] as? String == "keylocker-soft")
        #expect(report?["cipherDir"] as? String == fixture.image)
        let image = report?["image"] as? [String: Any]
        #expect(image?["type"] as? String == "plain" && image?["keyslot"] == nil && image?["sectorSize"] as? Int == 512)
        let written = [UInt8](repeating: 0x42, count: 4096)
        // O_DIRECT (behind _GNU_SOURCE, so by value: x86-64's 0o40000), so
        // that the read after lock reaches the daemon, not the page cache.
        let fd = open(fixture.device, O_RDWR | 0o40000)
        try #require(fd >= 0)
        defer { Glibc.close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: written)
        #expect(pwrite(fd, buffer.baseAddress, 4096, 0) == 4096)
        #expect(try runKLFS(["lock", fixture.mountPoint]).status == 0)
        #expect(pread(fd, buffer.baseAddress, 4096, 0) == -1 && errno == EKEYREVOKED)
        let wrong = fixture.directory + "/wrong"
        try "wrong passphrase\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let refused = try runKLFS(["resume", fixture.mountPoint, "--passfile", wrong])
        #expect(refused.status == 10 && refused.standardError.contains("another key"), "\(refused.standardError)")
        #expect(pread(fd, buffer.baseAddress, 4096, 0) == -1 && errno == EKEYREVOKED)
        let resume = try runKLFS(["resume", fixture.mountPoint, "--passfile", fixture.passfile])
        #expect(resume.status == 0, "\(resume.standardError)")
        #expect(pread(fd, buffer.baseAddress, 4096, 0) == 4096)
        #expect(Array(buffer) == written)
    }

    /// A keyfile from a pipe (`--keyfile -`, with an offset) opens a plain
    /// image; `klfs resume --keyfile -` sends a keyfile's bytes, refused
    /// when they give another key; the same bytes in a regular file open
    /// the same device after a close.
    @Test func aPipedKeyfileOpensAndResumeTakesAKeyfile() throws {
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        let keyfile = "xyz" + String((0..<64).map { Character(UnicodeScalar(UInt8(65 + $0 % 26))) })
        let pipedKey = ["--keyfile", "-", "--keyfile-offset", "3"]
        let opened = try fixture.open(key: pipedKey, input: keyfile)
        try #require(opened.status == 0, "\(opened.standardError)")
        let written = [UInt8](repeating: 0x5A, count: 4096)
        do {
            let device = try DirectDevice(fixture.device)
            #expect(device.write(written))
            #expect(try runKLFS(["lock", fixture.mountPoint]).status == 0)
            let wrong = try runKLFS(["resume", fixture.mountPoint] + pipedKey, input: "xyz" + String(repeating: "A", count: 64))
            #expect(wrong.status == 10 && wrong.standardError.contains("another key"), "\(wrong.standardError)")
            let short = try runKLFS(["resume", fixture.mountPoint] + pipedKey, input: "xyzABC")
            #expect(short.status == 14, "\(short.standardError)")
            let resumed = try runKLFS(["resume", fixture.mountPoint] + pipedKey, input: keyfile)
            #expect(resumed.status == 0, "\(resumed.standardError)")
            #expect(device.read() == written)
        }
        fixture.close()
        try keyfile.write(toFile: fixture.keyfile, atomically: true, encoding: .utf8)
        try fixture.requireOpen(key: ["--keyfile", fixture.keyfile, "--keyfile-offset", "3"])
        #expect(try DirectDevice(fixture.device).read() == written)
    }

    /// -o ro: reads work, writes and discards fail with EROFS, and the
    /// image is untouched.
    @Test func readOnlyMountsRefuseChanges() throws {
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        try fixture.requireOpen()
        let model = try ImageContents.writeRandomly(fixture.device, seed: 5)
        fixture.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: fixture.image))
        try fixture.requireOpen(["-o", "ro"])
        #expect(open(fixture.device, O_WRONLY) == -1 && errno == EROFS)
        let fd = open(fixture.device, O_RDONLY)
        try #require(fd >= 0)
        defer { Glibc.close(fd) }
        var back = [UInt8](repeating: 0, count: model.count)
        #expect(back.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) } == model.count)
        #expect(ImageContents.firstDifferingSector(back, model, sectorSize: 512) == nil)
        #expect(truncate(fixture.device, 4096) == -1 && errno == EROFS)
        fixture.close()
        #expect(ImageContents.firstDifferingSector(Array(try Data(contentsOf: URL(fileURLWithPath: fixture.image))),
                                                   Array(before), sectorSize: 512) == nil)
    }

    /// Each failure has its documented exit code and message.
    @Test func failuresHaveTheirExitCodes() throws {
        let fixture = try ImageMountFixture(size: "1M")
        defer { fixture.tearDown() }
        let luks = try runKLFS(["image", "open", fixture.image, fixture.mountPoint, "--passfile", fixture.passfile])
        #expect(luks.status == 53 && luks.standardError.contains("is not a LUKS image"), "\(luks.standardError)")
        let missing = try runKLFS(["image", "open", fixture.directory + "/none", fixture.mountPoint, "--type", "plain",
                                   "--passfile", fixture.passfile, "-f"])
        #expect(missing.status == 50 && missing.standardError.contains("does not exist"), "\(missing.standardError)")
        try fixture.requireOpen()
        let data: [UInt8] = [1, 2, 3]
        let fd = open(fixture.device, O_WRONLY)
        #expect(data.withUnsafeBytes { pwrite(fd, $0.baseAddress, 3, 0) } == 3)
        Glibc.close(fd)
        fixture.close()
        let again = try runKLFS(["image", "format", fixture.image, "--type", "plain", "--size", "1M"])
        #expect(again.status == 51 && again.standardError.contains("--force"))
        #expect(try runKLFS(["image", "format", fixture.image, "--type", "plain", "--size", "2M", "--force"]).status == 0)
        #expect(fixture.allocatedBytes() == 0)
        let hash = try runKLFS(["image", "open", fixture.image, fixture.mountPoint, "--type", "plain", "--hash", "md5"])
        #expect(hash.status == 64)
        let dump = try runKLFS(["image", "dump", fixture.image])
        #expect(dump.status == 0 && dump.standardOutput.contains("no LUKS header"))
    }
}
