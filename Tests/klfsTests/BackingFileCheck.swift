import Foundation
import Glibc
import KLBlock

/// What is wrong with the backing files of a cipher dir that is not
/// mounted, read without a key: every regular file below it (the volume's
/// own files aside) must be empty or have a header that parses and whose size its
/// data covers. Empty when all is well. (`klfs fsck` checks more, sectors
/// included; these tests do not depend on it.)
func backingFileProblems(in cipherDir: String) -> [String] {
    var problems: [String] = []
    let walker = FileManager.default.enumerator(atPath: cipherDir)
    while let relative = walker?.nextObject() as? String {
        let name = (relative as NSString).lastPathComponent
        guard !VolumeMetadataNames.contains(name, atRoot: !relative.contains("/")) else { continue }
        let path = cipherDir + "/" + relative
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            problems.append("\(relative): open: errno \(errno)")
            continue
        }
        defer { close(fd) }
        do {
            _ = try CipherFileHeader.read(fromDescriptor: fd)
        } catch {
            problems.append("\(relative): \(error)")
        }
    }
    return problems
}
