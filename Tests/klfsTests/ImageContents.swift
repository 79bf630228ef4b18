import Foundation
import Glibc
import KLTestSupport
import Testing

/// What image tests write through MOUNTPOINT/device (or an ext4 on top of
/// it) and the model they check it against, for every image type.
enum ImageContents {
    /// Fills the device, then 100 unaligned writes; reads it back through
    /// the mount, fsyncs, and returns the model of its contents.
    static func writeRandomly(_ path: String, seed: UInt64) throws -> [UInt8] {
        let fd = open(path, O_RDWR)
        try #require(fd >= 0, "open \(path): \(String(cString: strerror(errno)))")
        defer { Glibc.close(fd) }
        var generator = SeededGenerator(seed: seed)
        var st = stat()
        fstat(fd, &st)
        var model = (0..<Int(st.st_size)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(model.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } == model.count)
        for _ in 0..<100 {
            let start = Int.random(in: 0..<model.count - 1, using: &generator)
            let data = (0..<Int.random(in: 1...min(10_000, model.count - start), using: &generator))
                .map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(start)) } == data.count)
            model.replaceSubrange(start..<start + data.count, with: data)
        }
        #expect(fsync(fd) == 0)
        var back = [UInt8](repeating: 0, count: model.count)
        #expect(back.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) } == model.count)
        #expect(back == model)
        return model
    }

    /// 120 files in nested directories and one 8 MiB file.
    static func writeTree(under root: String) throws -> [String: Data] {
        var generator = SeededGenerator(seed: 11)
        var tree: [String: Data] = [:]
        for index in 0..<120 {
            let relative = "d\(index % 7)/e\(index % 3)/f\(index)"
            let bytes = (0..<Int.random(in: 0..<20_000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            tree[relative] = Data(bytes)
        }
        tree["large"] = Data((0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        for (relative, contents) in tree {
            let url = URL(fileURLWithPath: root + "/" + relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.write(to: url)
        }
        return tree
    }

    static func readTree(under root: String) throws -> [String: Data] {
        var tree: [String: Data] = [:]
        for relative in try FileManager.default.subpathsOfDirectory(atPath: root) where !relative.hasPrefix("lost+found") {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory),
               !isDirectory.boolValue { tree[relative] = try Data(contentsOf: URL(fileURLWithPath: root + "/" + relative)) }
        }
        return tree
    }

    /// The first sector where `actual` differs from `expected` (or the
    /// first past the shorter one), nil when they are equal: a failure
    /// names a sector instead of printing megabytes of array.
    static func firstDifferingSector(_ actual: [UInt8], _ expected: [UInt8], sectorSize: Int) -> Int? {
        guard actual != expected else { return nil }
        let common = min(actual.count, expected.count)
        let index = (0..<common).first { actual[$0] != expected[$0] } ?? common
        return index / sectorSize
    }
}
