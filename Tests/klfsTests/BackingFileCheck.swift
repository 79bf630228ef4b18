import Foundation
import Glibc
import KLBlock
import KLEngine

/// What is wrong with the backing files of a volume that is not mounted,
/// read with its master key: every regular file below the cipher dir (the
/// volume's own files aside) must be empty or have a header that
/// authenticates and whose size its data covers. Empty when all is well.
/// (`klfs fsck` checks more, sectors included; these tests do not depend
/// on it.)
func backingFileProblems(in volume: VolumeFixture) throws -> [String] {
    let format = try volume.unlocked().fileFormat
    var problems: [String] = []
    let walker = FileManager.default.enumerator(atPath: volume.cipherDir)
    while let relative = walker?.nextObject() as? String {
        let name = (relative as NSString).lastPathComponent
        guard !VolumeMetadataNames.contains(name, atRoot: !relative.contains("/")) else { continue }
        let path = volume.cipherDir + "/" + relative
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            problems.append("\(relative): open: errno \(errno)")
            continue
        }
        defer { close(fd) }
        do {
            _ = try CipherFileHeader.read(fromDescriptor: fd, format: format)
        } catch {
            problems.append("\(relative): \(error)")
        }
    }
    return problems
}

extension VolumeFixture {
    /// The volume unlocked with its master key, as the tests' own reader.
    func unlocked() throws -> UnlockedVolume {
        try Volume.unlock(cipherDir: cipherDir, masterKey: Self.secret(masterKey), engine: makeEngine(EngineKind.aesni))
    }
}
