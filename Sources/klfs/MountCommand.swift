import ArgumentParser
import CFuse
import KLBlock
import KLEngine

extension EngineChoice: ExpressibleByArgument {}
extension XTSKernel: ExpressibleByArgument {}

struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Unlock CIPHERDIR and mount its plaintext view on MOUNTPOINT.",
        discussion: """
            Runs in the background once the mount is ready (-f keeps it in the foreground). \
            SIGINT or SIGTERM, or 'klfs unmount MOUNTPOINT', unmounts. \
            'klfs CIPHERDIR MOUNTPOINT -o OPTIONS' means the same, which is how mount.fuse3 runs it \
            for an /etc/fstab line such as:
              /srv/cipher  /srv/plain  fuse.klfs  passfile=/etc/klfs/pass,allow_other  0  0
            """
    )

    @Argument(help: "The cipher dir: the directory that holds klfs.conf and the encrypted files.")
    var cipherDir: String

    @Argument(help: "An existing, empty directory to show the plaintext on.")
    var mountPoint: String

    @OptionGroup var key: UnlockOptions

    @OptionGroup var daemon: DaemonOptions

    @Option(name: .customShort("o"),
            help: ArgumentHelp("Mount options, comma-separated: ro, rw, allow_other (implies default_permissions), default_permissions, xattr, writeback_cache, passfile=FILE, masterkey=FILE, engine=NAME, xts_kernel=NAME, workers=N (threads serving requests; default 10), klfs_dev and klfs_suid (the mount is nodev,nosuid otherwise; dev and suid, which mount.fuse3 adds, are ignored), and the generic flags noexec, noatime, ...",
                               valueName: "OPTIONS"))
    var mountOptions: [String] = []

    func run() throws {
        try reportingFailures {
            let options = try MountOptionList(parsing: mountOptions)
            let request = MountRequest(cipherDir: absolutePath(cipherDir),
                                       mountPoint: try MountPoint.validated(mountPoint),
                                       options: options,
                                       key: keySource(options),
                                       engine: try options.engineChoice(flag: daemon.engine),
                                       xtsKernel: try options.xtsKernelChoice(flag: daemon.xtsKernel),
                                       emulation: daemon.emulation)
            try Daemon.run(foreground: daemon.foreground, request.serve(readiness:))
        }
    }

    /// A command-line flag wins over the same setting in -o.
    private func keySource(_ options: MountOptionList) -> UnlockKey {
        if let given = key.givenKey { return given }
        if let path = options.masterkey { return .masterKey(path: path) }
        if let path = options.passfile { return .passphrase(.file(path: path)) }
        return .passphrase(.terminal)
    }
}

extension MountOptionList {
    /// The XTS kernel: the command-line flag wins over xts_kernel= in -o.
    func xtsKernelChoice(flag: XTSKernel?) throws(CommandFailure) -> XTSKernel {
        if let flag { return flag }
        guard let name = xtsKernel else { return .auto }
        guard let kernel = XTSKernel(rawValue: name) else {
            let names = XTSKernel.allCases.map(\.rawValue).joined(separator: ", ")
            throw CommandFailure(.usage, "unknown XTS kernel '\(name)' (\(names))")
        }
        return kernel
    }

    /// The engine: the command-line flag wins over engine= in -o.
    func engineChoice(flag: EngineChoice?) throws(CommandFailure) -> EngineChoice {
        if let flag { return flag }
        guard let name = engine else { return .auto }
        guard let choice = EngineChoice(rawValue: name) else {
            throw CommandFailure(.usage, "unknown engine '\(name)' (auto, keylocker, keylocker-soft, aesni)")
        }
        return choice
    }
}
