import ArgumentParser
import KLBlock

struct ImageFormatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "format",
        abstract: "Create an encrypted image whose plaintext device is SIZE bytes.",
        discussion: """
            luks2 (default): a LUKS2 header in cryptsetup's default layout (16 MiB of headers and keyslots), \
            then SIZE bytes of data segment, left sparse; the image is 16 MiB + SIZE bytes and the data \
            segment follows the image as it grows (cryptsetup's "dynamic" size). The passphrase is asked \
            twice on a terminal. \
            plain: a sparse file of SIZE bytes and nothing else (plain dm-crypt has no header; \
            the key comes from the passphrase or keyfile given to 'klfs image open'). \
            An existing file that holds data is refused unless --force.
            """
    )

    @Argument(help: "The image file to create.")
    var image: String

    @Option(help: ArgumentHelp("The plaintext device's size in bytes; K, M, G or T (powers of 1024) may follow. A multiple of the sector size.",
                               valueName: "SIZE"))
    var size: ByteCount

    @OptionGroup var type: ImageTypeOption

    @OptionGroup var sectorSize: ImageSectorSizeOption

    @OptionGroup var passphrase: PassphraseOptions

    @OptionGroup var kdf: LUKS2KDFOptions

    @Flag(help: "Overwrite an existing image that holds data (its contents are lost).")
    var force = false

    func run() throws {
        try reportingFailures {
            let sectorBytes = sectorSize.sectorSize(for: type.type).bytes
            guard size.bytes % sectorBytes == 0 else {
                throw CommandFailure(.usage, "--size \(size.bytes) is not a multiple of the sector size \(sectorBytes)")
            }
            switch type.type {
            case .plain: try PlainImage.create(path: image, size: size.bytes, force: force)
            case .luks2: try formatLUKS2(sectorSize: sectorBytes)
            }
        }
    }

    private func formatLUKS2(sectorSize: Int) throws {
        let secret = try passphrase.source.read(prompt: "New passphrase: ", confirm: true)
        // The passphrase dies here, once keyslot 0 holds it.
        defer { secret.wipe() }
        try LUKS2Image.format(path: image, dataSize: size.bytes, passphrase: secret,
                              formatter: LUKS2Formatter(sectorSize: sectorSize, kdf: kdf.keyslotKDF), force: force)
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
