import Foundation
import Glibc
import Testing

/// Each failure has its own exit code and a one-line message.
@Suite struct MountErrorTests {
    private func expectFailure(_ result: CommandResult, _ status: Int32, _ fragment: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == status, "\(result.standardError)", sourceLocation: sourceLocation)
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(result.standardError)", sourceLocation: sourceLocation)
        #expect(result.standardError.contains(fragment), "\(result.standardError)", sourceLocation: sourceLocation)
    }

    @Test func mountPointProblems() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        expectFailure(try runKLFS(["mount", volume.cipherDir, volume.mountPoint + "-missing", "--passfile", volume.passfile]),
                      30, "does not exist")
        try Data().write(to: URL(fileURLWithPath: volume.mountPoint + "/stray"))
        expectFailure(try volume.mount(), 31, "not empty")
        try FileManager.default.removeItem(atPath: volume.mountPoint + "/stray")
        try volume.requireMount()
        expectFailure(try volume.mount(), 32, "already")
        volume.unmount()
        expectFailure(try runKLFS(["unmount", volume.mountPoint]), 34, "nothing is mounted")
    }

    @Test func unlockProblems() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let wrong = volume.directory.appendingPathComponent("wrong").path
        try "not the passphrase\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        expectFailure(try runKLFS(["mount", volume.cipherDir, volume.mountPoint, "--passfile", wrong]), 10, "wrong passphrase")
        #expect(!volume.isMounted)

        let config = volume.backingPath("klfs.conf")
        let original = try Data(contentsOf: URL(fileURLWithPath: config))
        try FileManager.default.moveItem(atPath: config, toPath: config + ".away")
        expectFailure(try volume.mount(), 11, "not found")
        try FileManager.default.moveItem(atPath: config + ".away", toPath: config)

        chmod(config, 0o600)
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: config))
        expectFailure(try volume.mount(), 12, "corrupt")

        var json = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        json["version"] = 99
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
        expectFailure(try volume.mount(), 13, "version")
        #expect(!volume.isMounted)
    }
}
