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

    /// LUKS's magic, at byte 0 of LUKS1 and LUKS2 images. An image whose
    /// primary copy is wiped is read as plain here; `klfs image open
    /// --type luks2` still finds its secondary copy.
    private static let luksMagic: [UInt8] = [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE]

    func run() throws {
        try reportingFailures {
            let (size, start) = try Self.sizeAndStart(of: image)
            if start == Self.luksMagic {
                // Not checked for support: dump shows what an image uses even when klfs cannot open it.
                print(try LUKS2Header.read(path: image).dump(), terminator: "")
                return
            }
            print("""
                \(image): no LUKS header, \(size) bytes.
                A plain dm-crypt image has no header: its hash, offset, skip and sector size are not stored \
                anywhere and must be given to 'klfs image open --type plain' as they were first used.
                """)
        }
    }

    private static func sizeAndStart(of path: String) throws(ImageError) -> (Int, [UInt8]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw errno == ENOENT ? .imageMissing(path: path) : .system(call: "open", path: path, errno: errno)
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .system(call: "fstat", path: path, errno: errno) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .imageNotRegularFile(path: path) }
        var start = [UInt8](repeating: 0, count: luksMagic.count)
        let got = pread(fd, &start, start.count, 0)
        return (Int(status.st_size), got == start.count ? start : [])
    }
}
