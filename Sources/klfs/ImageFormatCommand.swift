import ArgumentParser
import KLBlock

struct ImageFormatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "format",
        abstract: "Create an encrypted image of SIZE bytes.",
        discussion: """
            plain: a sparse file of SIZE bytes and nothing else (plain dm-crypt has no header; \
            the key comes from the passphrase or keyfile given to 'klfs image open'). \
            An existing file that holds data is refused unless --force.
            """
    )

    @Argument(help: "The image file to create.")
    var image: String

    @Option(help: ArgumentHelp("The image size in bytes; K, M, G or T (powers of 1024) may follow. A multiple of 512.",
                               valueName: "SIZE"))
    var size: ByteCount

    @OptionGroup var type: ImageTypeOption

    @OptionGroup var sectorSize: ImageSectorSizeOption

    @Flag(help: "Overwrite an existing image that holds data (its contents are lost).")
    var force = false

    func run() throws {
        try reportingFailures {
            try type.requireBuilt()
            guard size.bytes % sectorSize.bytes == 0 else {
                throw CommandFailure(.usage, "--size \(size.bytes) is not a multiple of the sector size \(sectorSize.bytes)")
            }
            try PlainImage.create(path: image, size: size.bytes, force: force)
        }
    }
}

/// A byte count with an optional binary suffix: 4096, 64K, 100M, 2G, 1T.
struct ByteCount: ExpressibleByArgument {
    let bytes: Int

    init?(argument: String) {
        let suffixes: [Character: Int] = ["K": 10, "M": 20, "G": 30, "T": 40]
        var digits = argument.uppercased()
        var shift = 0
        if let last = digits.last, let power = suffixes[last] {
            shift = power
            digits.removeLast()
        }
        guard let value = Int(digits), value > 0, value <= Int.max >> shift else { return nil }
        bytes = value << shift
    }
}
