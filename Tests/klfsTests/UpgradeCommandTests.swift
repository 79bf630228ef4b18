import CFuse
import Foundation
import Glibc
import KLTestSupport
import Testing

/// `klfs upgrade` converts a version 1 volume to version 2 in place
/// (docs/CONFIG.md, "Upgrading a version 1 volume"): headers sealed, data
/// sectors untouched, `user.` xattrs encrypted; nothing changed when an
/// entry cannot be converted; an interrupted run refused by mount and
/// finished by the next one.
@Suite(.serialized) struct UpgradeCommandTests {
    @Test func theVersion1FixtureUpgradesWithEveryFileAndXattrIntact() throws {
        let volume = try VolumeFixture(extracting: VersionOneVolumeTests.archive,
                                       masterKeyText: VersionOneVolumeTests.masterKeyText)
        defer { volume.unmount() }
        let before = try PlaintextTree(volume)
        let backingBefore = try volume.backingFiles().reduce(into: [String: [UInt8]]()) { $0[$1] = try contents($1) }

        let upgrade = try runKLFS(["upgrade", volume.cipherDir, "--passfile", volume.passfile])
        #expect(upgrade.status == 0, "\(upgrade.standardError)")
        #expect(upgrade.standardOutput.contains("now format version 2"), "\(upgrade.standardOutput)")
        #expect(try runKLFS(["info", volume.cipherDir]).standardOutput.contains("Format version: 2 (sizes encrypted"))

        for (path, old) in backingBefore {
            let new = try contents(path)
            if old.isEmpty {
                #expect(new.isEmpty, "\(path): a file without a header keeps none")
                continue
            }
            #expect(Array(new[8..<10]) == [2, 0], "\(path)")
            #expect(SpecReader.openHeader(new, masterKey: volume.masterKey) == UInt64(littleEndianBytes: old[24..<32]),
                    "\(path): the sealed size is the version 1 size")
            #expect(new[16..<24].allSatisfy { $0 == 0 } && new[24..<32] == old[16..<24], "\(path): F = N * 2^64")
            let sectorSize = 1 << Int(old[10])
            #expect(new.count == max(old.count, 64) && new.dropFirst(sectorSize) == old.dropFirst(sectorSize),
                    "\(path): no sector rewritten")
        }
        let names = try volume.backingFiles().flatMap(backingXattrNames)
        #expect(!names.isEmpty && names.allSatisfy { $0.hasPrefix("user.klfs.") }, "\(names)")

        #expect(try PlaintextTree(volume) == before)
        let fsck = try runKLFS(["fsck", volume.cipherDir, "--passfile", volume.passfile])
        #expect(fsck.status == 0 && fsck.standardOutput.contains("version 2"), "\(fsck.standardOutput)")
        let again = try runKLFS(["upgrade", volume.cipherDir, "--passfile", volume.passfile])
        #expect(again.status == 0 && again.standardOutput.contains("already format version 2"))
    }

    static let obstacles = ["a damaged header", "an xattr name too long for version 2"]

    /// The survey reads the whole volume before anything is written.
    @Test(arguments: obstacles)
    func anEntryThatCannotBeConvertedStopsTheUpgradeBeforeAnyChange(_ obstacle: String) throws {
        let volume = try VolumeFixture(extracting: VersionOneVolumeTests.archive,
                                       masterKeyText: VersionOneVolumeTests.masterKeyText)
        defer { volume.unmount() }
        let victim = try #require(try volume.backingFiles().first { try contents($0).count > 4096 })
        if obstacle == "a damaged header" {
            let fd = open(victim, O_WRONLY)
            #expect(pwrite(fd, "klfs.xtx", 8, 0) == 8)
            close(fd)
        } else {
            // 176 bytes after user.: version 1 stored it, version 2 takes 175.
            #expect(setxattr(victim, "user." + String(repeating: "n", count: 176), "v", 1, 0) == 0)
        }
        let snapshot = try cipherDirSnapshot(volume)

        let upgrade = try runKLFS(["upgrade", volume.cipherDir, "--passfile", volume.passfile])
        #expect(upgrade.status == 40)
        let relative = String(victim.dropFirst(volume.cipherDir.count + 1))
        #expect(upgrade.standardError.contains(relative) && upgrade.standardError.contains("nothing was changed"),
                "\(upgrade.standardError)")
        #expect(try cipherDirSnapshot(volume) == snapshot)
    }

    @Test func aMountedVolumeIsRefused() throws {
        let volume = try VolumeFixture(extracting: VersionOneVolumeTests.archive,
                                       masterKeyText: VersionOneVolumeTests.masterKeyText)
        defer { volume.unmount() }
        try volume.requireMount()
        let upgrade = try runKLFS(["upgrade", volume.cipherDir, "--passfile", volume.passfile])
        #expect(upgrade.status == 32 && upgrade.standardError.contains("unmount it first"), "\(upgrade.standardError)")
    }

    /// Killed as soon as klfs.conf says the upgrade began (somewhere in the
    /// walk over 1,500 files with xattrs): mount and fsck refuse the volume
    /// with exit 13, and the next run finishes it with every file and xattr
    /// intact.
    @Test func anInterruptedUpgradeIsRefusedByMountAndFinishedByTheNextRun() throws {
        let volume = try VolumeFixture(extracting: VersionOneVolumeTests.archive,
                                       masterKeyText: VersionOneVolumeTests.masterKeyText)
        defer { volume.unmount() }
        try volume.requireMount(["-o", "xattr"])
        #expect(setxattr(volume.mountPoint, "user.top", "on the cipher dir itself", 24, 0) == 0)
        try FileManager.default.createDirectory(atPath: volume.path("many"), withIntermediateDirectories: false)
        for index in 0..<1500 {
            let path = volume.path("many/file-\(index)")
            try Data(bytes(index % 3 == 0 ? 0 : 100 + index, seed: UInt64(index))).write(to: URL(fileURLWithPath: path))
            let value = "value \(index)"
            #expect(setxattr(path, "user.index", value, value.utf8.count, 0) == 0)
        }
        volume.unmount()
        let before = try PlaintextTree(volume)

        let config = volume.cipherDir + "/klfs.conf"
        let process = Process()
        process.executableURL = klfsBinary
        process.arguments = ["upgrade", volume.cipherDir, "--passfile", volume.passfile]
        process.environment = ["SWIFT_BACKTRACE": "enable=no"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        while process.isRunning,
              !(String(data: (try? Data(contentsOf: URL(fileURLWithPath: config))) ?? Data(), encoding: .utf8) ?? "")
                .contains("upgrade-in-progress") {
            usleep(100)
        }
        usleep(UInt32.random(in: 0...20_000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        #expect(try runKLFS(["info", volume.cipherDir]).standardOutput.contains("was interrupted"))
        let mount = try volume.mount()
        #expect(mount.status == 13 && mount.standardError.contains("run `klfs upgrade`"), "\(mount.standardError)")
        #expect(try runKLFS(["fsck", volume.cipherDir, "--passfile", volume.passfile]).status == 13)

        let finish = try runKLFS(["upgrade", volume.cipherDir, "--passfile", volume.passfile])
        #expect(finish.status == 0 && finish.standardOutput.contains("an interrupted upgrade finished"),
                "\(finish.standardOutput)\(finish.standardError)")
        let after = try PlaintextTree(volume)
        #expect(after == before)
        #expect(after.xattrs["."]?["user.top"] == Array("on the cipher dir itself".utf8))
        #expect(try runKLFS(["fsck", volume.cipherDir, "--passfile", volume.passfile]).status == 0)
    }
}

/// Every file's contents, every symlink's target and every `user.` xattr
/// of a volume, read through a mount with `-o xattr`.
private struct PlaintextTree: Equatable {
    var files: [String: [UInt8]] = [:]
    var links: [String: String] = [:]
    var xattrs: [String: [String: [UInt8]]] = [:]

    init(_ volume: VolumeFixture) throws {
        try volume.requireMount(["-o", "xattr"])
        defer { volume.unmount() }
        xattrs["."] = userXattrs(of: volume.mountPoint)
        let walker = FileManager.default.enumerator(atPath: volume.mountPoint)
        while let relative = walker?.nextObject() as? String {
            let path = volume.path(relative)
            var status = stat()
            #expect(lstat(path, &status) == 0)
            switch status.st_mode & S_IFMT {
            case S_IFLNK: links[relative] = try FileManager.default.destinationOfSymbolicLink(atPath: path)
            case S_IFREG: files[relative] = try contents(path)
            default: break
            }
            if status.st_mode & S_IFMT != S_IFLNK { xattrs[relative] = userXattrs(of: path) }
        }
    }
}

private func userXattrs(of path: String) -> [String: [UInt8]] {
    var list = [CChar](repeating: 0, count: 65_536)
    let length = listxattr(path, &list, list.count)
    guard length > 0 else { return [:] }
    var values: [String: [UInt8]] = [:]
    for name in names(in: list[..<length]) where name.hasPrefix("user.") {
        var value = [UInt8](repeating: 0, count: 65_536)
        let size = getxattr(path, name, &value, value.count)
        values[name] = size < 0 ? nil : Array(value[..<size])
    }
    return values
}

private func backingXattrNames(_ path: String) -> [String] {
    var list = [CChar](repeating: 0, count: 65_536)
    let length = listxattr(path, &list, list.count)
    return length <= 0 ? [] : names(in: list[..<length]).filter { $0.hasPrefix("user.") }
}

/// The names in a listxattr result.
private func names(in list: ArraySlice<CChar>) -> [String] {
    list.split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
}

private func contents(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

/// Every backing entry's bytes and xattrs, klfs.conf included.
private func cipherDirSnapshot(_ volume: VolumeFixture) throws -> [String: [UInt8]] {
    var snapshot: [String: [UInt8]] = [:]
    let walker = FileManager.default.enumerator(atPath: volume.cipherDir)
    while let relative = walker?.nextObject() as? String {
        let path = volume.backingPath(relative)
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
        snapshot[relative] = try contents(path)
        for (name, value) in userXattrs(of: path) { snapshot[relative + "@" + name] = value }
    }
    return snapshot
}

private extension UInt64 {
    init(littleEndianBytes bytes: ArraySlice<UInt8>) {
        self = bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
