import ArgumentParser
import KLBlock

/// The KDF of a new LUKS2 keyslot (image format, add-key), with
/// cryptsetup's option names and units. Costs are fixed numbers, not
/// cryptsetup's --iter-time benchmark, so that the result does not depend
/// on how loaded the machine is (docs/LUKS2.md, "KDF costs"); an option
/// not given keeps klfs's default.
struct LUKS2KDFOptions: ParsableArguments {
    enum KDFName: String, ExpressibleByArgument, CaseIterable { case argon2id, argon2i, pbkdf2 }

    @Option(name: .customLong("pbkdf"), help: "The keyslot KDF: argon2id (default), argon2i or pbkdf2 (pbkdf2-sha256).")
    var kdf: KDFName = .argon2id

    @Option(name: .customLong("pbkdf-memory"), help: "Argon2 memory in KiB (default 1 GiB, at most a quarter of the RAM).")
    var memoryKiB: Int?

    @Option(name: .customLong("pbkdf-force-iterations"),
            help: "Argon2 passes (default 4) or PBKDF2 iterations (default 1000000).")
    var iterations: Int?

    @Option(name: .customLong("pbkdf-parallel"), help: "Argon2 lanes (default: online CPUs, at most 4).")
    var parallel: Int?

    func validate() throws {
        if kdf == .pbkdf2 && (memoryKiB != nil || parallel != nil) {
            throw ValidationError("--pbkdf-memory and --pbkdf-parallel are Argon2 costs; pbkdf2 takes --pbkdf-force-iterations only")
        }
        for (name, value) in [("--pbkdf-memory", memoryKiB), ("--pbkdf-force-iterations", iterations), ("--pbkdf-parallel", parallel)] {
            if let value, value < 1 { throw ValidationError("\(name) must be positive") }
        }
    }

    var keyslotKDF: LUKS2KeyslotKDF {
        let base: LUKS2KeyslotKDF = switch kdf {
        case .pbkdf2: .defaultPBKDF2
        case .argon2id: .defaultArgon2(.argon2id)
        case .argon2i: .defaultArgon2(.argon2i)
        }
        return base.with(iterations: iterations, memoryKiB: memoryKiB, threads: parallel)
    }
}
