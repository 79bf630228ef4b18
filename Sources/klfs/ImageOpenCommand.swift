import ArgumentParser
import KLBlock
import KLEngine

struct ImageOpenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Open IMAGE and show its plaintext as MOUNTPOINT/device, a file to losetup and mkfs.",
        discussion: """
            Like 'cryptsetup open' without device-mapper: the volume key is wrapped into Key Locker \
            handles (or the engine's form) and wiped, and MOUNTPOINT shows one regular file, 'device', \
            whose bytes are the decrypted sectors. 'losetup -f --show MOUNTPOINT/device' makes a block \
            device of it. Runs in the background once mounted (-f keeps it in the foreground); \
            'klfs image close MOUNTPOINT' or SIGINT/SIGTERM unmounts. docs/IMAGE.md has the details.
            """
    )

    @Argument(help: "The encrypted image file.")
    var image: String

    @Argument(help: "An existing, empty directory to show the plaintext file in.")
    var mountPoint: String

    @OptionGroup var type: ImageTypeOption

    @OptionGroup var passphrase: PassphraseOptions

    @OptionGroup var keyfile: KeyfileOptions

    @OptionGroup var plain: PlainModeOptions

    @OptionGroup var sectorSize: ImageSectorSizeOption

    @OptionGroup var keySlot: KeySlotOption

    @OptionGroup var daemon: DaemonOptions

    @Option(name: .customShort("o"),
            help: ArgumentHelp("Mount options, comma-separated: ro, rw, allow_other, default_permissions, passfile=FILE, engine=NAME, xts_kernel=NAME, workers=N (threads serving requests; default one per CPU), and the generic flags.",
                               valueName: "OPTIONS"))
    var mountOptions: [String] = []

    func validate() throws {
        try keyfile.requireAlone(besides: passphrase)
        switch type.type {
        case .luks2:
            let plainOnly = plain.namesGiven + (sectorSize.bytes != nil ? ["--sector-size"] : [])
            if !plainOnly.isEmpty {
                throw ValidationError("\(plainOnly.joined(separator: ", ")): plain mode only (a LUKS2 header says its own layout)")
            }
        case .plain:
            if keySlot.number != nil { throw ValidationError("--key-slot: LUKS2 only (plain mode has no keyslots)") }
        }
    }

    func run() throws {
        try reportingFailures {
            if keyfile.keyfile != nil && plain.hash != nil {
                printError("klfs: warning: --hash is ignored with --keyfile in plain mode (as cryptsetup ignores it): the keyfile's bytes are the key")
            }
            let options = try MountOptionList(parsing: mountOptions)
            let request = ImageOpenRequest(imagePath: absolutePath(image),
                                           mountPoint: try MountPoint.validated(mountPoint),
                                           type: type.type, options: options,
                                           parameters: plain.parameters(sectorSize: sectorSize.sectorSize(for: .plain)),
                                           key: keySource(options), keyslot: keySlot.number,
                                           engine: try options.engineChoice(flag: daemon.engine),
                                           xtsKernel: try options.xtsKernelChoice(flag: daemon.xtsKernel),
                                           emulation: daemon.emulation)
            // A plain layout is checked before forking, so a bad one fails
            // here (a LUKS2 header's, when the daemon reads it).
            if type.type == .plain { _ = try request.parameters.layout() }
            try Daemon.run(foreground: daemon.foreground, request.serve(readiness:))
        }
    }

    /// A command-line flag wins over passfile= in -o.
    private func keySource(_ options: MountOptionList) -> ImageKeySource {
        if let source = keyfile.source { return source }
        if passphrase.passfile == nil && passphrase.extpass == nil, let path = options.passfile {
            return .passphrase(.file(path: path))
        }
        return .passphrase(passphrase.source)
    }
}

/// cryptsetup's plain-mode options, with its names and units.
struct PlainModeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The passphrase hash: ripemd160 (default), sha1, sha256, sha512, or plain (the passphrase itself); NAME:N fills only the key's first N bytes that way, zeros after them. Ignored with --keyfile, as cryptsetup ignores it.",
                               valueName: "hash"))
    var hash: PlainPassphraseHash?

    @Option(help: "Where the encrypted data starts in the image, in 512-byte sectors.")
    var offset: UInt64 = 0

    @Option(help: "The IV offset: the sector number the first encrypted sector has in the IV, in 512-byte sectors.")
    var skip: UInt64 = 0

    @Option(help: "The device size in 512-byte sectors (default: the rest of the image, following it as it grows).")
    var size: UInt64?

    @Flag(help: "Count IVs in sectors of --sector-size rather than of 512 bytes (as cryptsetup's --iv-large-sectors).")
    var ivLargeSectors = false

    /// The plain-only options given (those whose default can be told apart).
    var namesGiven: [String] {
        [("--hash", hash != nil), ("--offset", offset != 0), ("--skip", skip != 0), ("--size", size != nil),
         ("--iv-large-sectors", ivLargeSectors)].filter(\.1).map(\.0)
    }

    func parameters(sectorSize: SectorSize) -> PlainImage.Parameters {
        var parameters = PlainImage.Parameters()
        parameters.hash = hash ?? .ripemd160
        parameters.offset = offset
        parameters.skip = skip
        parameters.size = size
        parameters.sectorSize = sectorSize
        parameters.ivLargeSectors = ivLargeSectors
        return parameters
    }
}

extension PlainPassphraseHash: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}
