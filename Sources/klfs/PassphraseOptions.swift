import ArgumentParser
import KLBlock

/// Where a passphrase comes from: the terminal (default), --passfile or
/// --extpass. Never argv or the environment.
struct PassphraseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the passphrase from the first line of FILE.", valueName: "FILE"))
    var passfile: String?

    @Option(help: ArgumentHelp("Run CMD with /bin/sh -c and read the passphrase from the first line it prints.",
                               valueName: "CMD"))
    var extpass: String?

    func validate() throws {
        if passfile != nil && extpass != nil {
            throw ValidationError("--passfile and --extpass exclude each other")
        }
    }

    var source: PassphraseSource {
        if let passfile { return .file(path: passfile) }
        if let extpass { return .command(extpass) }
        return .terminal
    }
}

/// Argon2id cost overrides for init and passwd.
struct KDFOptions: ParsableArguments {
    @Option(name: .customLong("kdf-ops"), help: "Argon2id passes (opslimit); default \(Argon2idCost.default.opslimit).")
    var opslimit: UInt64?

    @Option(name: .customLong("kdf-memory-mib"),
            help: "Argon2id memory in MiB; default \(Argon2idCost.default.memlimit >> 20).")
    var memoryMiB: UInt64?

    /// nil when neither is given; a missing one takes its default.
    var cost: Argon2idCost? {
        guard opslimit != nil || memoryMiB != nil else { return nil }
        return Argon2idCost(opslimit: opslimit ?? Argon2idCost.default.opslimit,
                            memoryMiB: memoryMiB ?? Argon2idCost.default.memlimit >> 20)
    }
}
