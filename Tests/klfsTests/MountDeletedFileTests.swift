import Foundation
import Glibc
import Testing

/// The daemon lets go of deleted files soon (InodeTable retires them in
/// batches so that rmdir does not wait on each): it holds none of them a
/// moment after the deletes end, without another request to prompt it.
@Suite struct MountDeletedFileTests {
    @Test func deletedFilesAreLetGoWithoutAnyFurtherRequest() throws {
        try withMountedVolume { volume in
            let pid = try #require(volume.daemonPID())
            try makeAndRemoveTree(in: volume, files: 300)
            for _ in 0..<100 where !deletedFilesHeld(by: pid, in: volume).isEmpty { usleep(10_000) }
            #expect(deletedFilesHeld(by: pid, in: volume).isEmpty)
        }
    }
}

/// A directory of `files` small files, each read back, then all removed.
private func makeAndRemoveTree(in volume: VolumeFixture, files: Int) throws {
    let directory = volume.path("tree")
    #expect(mkdir(directory, 0o755) == 0)
    for index in 0..<files {
        try Data(bytes(5000, seed: UInt64(index))).write(to: URL(fileURLWithPath: "\(directory)/f\(index)"))
    }
    for index in 0..<files { #expect(unlink("\(directory)/f\(index)") == 0) }
    #expect(rmdir(directory) == 0)
}

private func deletedFilesHeld(by pid: pid_t, in volume: VolumeFixture) -> [String] {
    descriptorTargets(of: pid).filter { $0.hasPrefix(volume.cipherDir + "/") && $0.hasSuffix(" (deleted)") }
}
