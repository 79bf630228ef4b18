import ArgumentParser
import KLBlock

/// `klfs image`: dm-crypt's formats served over FUSE as one plaintext file
/// (docs/IMAGE.md).
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Encrypted disk images (dm-crypt plain, LUKS2) served as one plaintext file to losetup and mkfs.",
        subcommands: [ImageFormatCommand.self, ImageOpenCommand.self, ImageCloseCommand.self, ImageDumpCommand.self]
    )
}

/// What `--type` means for image commands: cryptsetup's default is LUKS.
struct ImageTypeOption: ParsableArguments {
    @Option(help: "The image format: luks2 (default, as cryptsetup's) or plain.")
    var type: ImageType = .luks2

    /// Refuses, before anything happens, a type this build cannot serve.
    func requireBuilt() throws(CommandFailure) {
        if type == .luks2 {
            throw CommandFailure(.imageUnsupported, "image type luks2 is not built yet (use --type plain)")
        }
    }
}

/// `--sector-size`, for format and open.
struct ImageSectorSizeOption: ParsableArguments {
    @Option(name: .customLong("sector-size"), help: "The encryption sector size: 512 (default) or 4096.")
    var bytes = 512

    func validate() throws {
        guard ImageLayout.sectorSizes.contains(bytes) else {
            throw ValidationError("--sector-size must be 512 or 4096")
        }
    }

    var sectorSize: SectorSize { SectorSize(bytes: bytes)! }
}
