import ArgumentParser
import Glibc
import KLBlock

struct ImageDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Describe an image's header (as cryptsetup luksDump does), never its secrets."
    )

    @Argument(help: "The image file.")
    var image: String

    func run() throws {
        try reportingFailures {
            let size = try Self.regularFileSize(image)
            let header: LUKS2Header
            do throws(LUKS2Error) {
                // Both copies are looked for, so an image whose primary is
                // wiped still dumps from its secondary.
                header = try LUKS2Header.read(path: image)
            } catch .notLUKS {
                print("""
                    \(image): no LUKS header, \(size) bytes.
                    A plain dm-crypt image has no header: its hash, offset, skip and sector size are not stored \
                    anywhere and must be given to 'klfs image open --type plain' as they were first used.
                    """)
                return
            }
            // Not checked for support: dump shows what an image uses even when klfs cannot open it.
            print(header.dump(), terminator: "")
        }
    }

    private static func regularFileSize(_ path: String) throws(ImageError) -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw errno == ENOENT ? .imageMissing(path: path) : .system(call: "stat", path: path, errno: errno)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .imageNotRegularFile(path: path) }
        return Int(status.st_size)
    }
}
