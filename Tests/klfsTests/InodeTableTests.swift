import CFuse
import Foundation
import Glibc
@testable import klfs
import Testing

/// The inode table on a real directory, without a mount, so that a test
/// can put a lookup of a file between the two halves of the forget of its
/// previous inode, where the kernel may put one.
@Suite struct InodeTableTests {
    @Test func aSizeKeptAtForgetNeverValidatesAgainstAChangeMadeAfterIt() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/file"
        try Data(count: 100).write(to: URL(fileURLWithPath: file))
        let table = try InodeTable(rootFD: try posix(open(directory, cfuse_o_path | O_DIRECTORY)), descriptorCapacity: 64)

        // The kernel's inode of the file knows its size, 100 bytes.
        let first = try lookUp("file", in: table)
        first.contents.assume(KnownSize(100, backing: try attributes(file)))
        // Its forget has taken it out of the table, and goes no further yet.
        let detached = try #require(table.detach(first.nodeID, count: 1))

        // Meanwhile the kernel looks the file up again (a new inode), it
        // grows to 5000 bytes through that one, which the kernel forgets too.
        let second = try lookUp("file", in: table)
        #expect(second !== first)
        usleep(20_000)  // Past the coarse timestamp tick: a new ctime.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(count: 4096))
        try handle.close()
        second.contents.assume(KnownSize(5000, backing: try attributes(file)))
        table.forget(second.nodeID, count: 1)

        // Now the first forget finishes: it must not leave 100 bytes
        // standing for the file as it is now.
        table.settle(detached)
        let kept = table.forgottenSizes.take(for: try attributes(file))
        #expect(kept == nil || kept?.size == 5000, "a stale size validates: \(String(describing: kept?.size))")
    }

    /// One kernel lookup of `name` in the table's root.
    private func lookUp(_ name: String, in table: InodeTable) throws -> Inode {
        let st = try backingAttributes(name, in: try table.root.fd)
        return table.remember(attributes: st, at: BackingLocation(parent: table.root, name: cString(name)))
    }

    private func attributes(_ path: String) throws -> stat {
        var st = stat()
        try #require(stat(path, &st) == 0)
        return st
    }

    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "klfs-inodes-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }
}
