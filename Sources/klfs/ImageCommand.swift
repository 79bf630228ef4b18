import ArgumentParser
import KLBlock

/// `klfs image`: dm-crypt's formats served over FUSE as one plaintext file
/// (docs/IMAGE.md).
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Encrypted disk images (dm-crypt plain, LUKS2) served as one plaintext file to losetup and mkfs.",
        subcommands: [ImageFormatCommand.self, ImageOpenCommand.self, ImageCloseCommand.self, ImageDumpCommand.self,
                      ImageAddKeyCommand.self, ImageRemoveKeyCommand.self]
    )
}

/// What `--type` means for image commands: cryptsetup's default is LUKS.
struct ImageTypeOption: ParsableArguments {
    @Option(help: "The image format: luks2 (default, as cryptsetup's) or plain.")
    var type: ImageType = .luks2
}

/// `--sector-size`, for format and plain open (a LUKS2 header says its own).
struct ImageSectorSizeOption: ParsableArguments {
    @Option(name: .customLong("sector-size"),
            help: "The encryption sector size, 512 or 4096 (default: 4096 for luks2, as cryptsetup picks for an image file; 512 for plain).")
    var bytes: Int?

    func validate() throws {
        if let bytes, !ImageLayout.sectorSizes.contains(bytes) {
            throw ValidationError("--sector-size must be 512 or 4096")
        }
    }

    /// The size given, or the type's default.
    func sectorSize(for type: ImageType) -> SectorSize {
        SectorSize(bytes: bytes ?? (type == .luks2 ? 4096 : 512))!
    }
}

/// `--key-slot`, cryptsetup's name: the LUKS2 keyslot to open, add or remove.
struct KeySlotOption: ParsableArguments {
    @Option(name: .customLong("key-slot"), help: "The LUKS2 keyslot, 0 to 31.")
    var number: Int?

    func validate() throws {
        if let number, !(0..<32).contains(number) { throw ValidationError("--key-slot must be 0 to 31") }
    }
}
