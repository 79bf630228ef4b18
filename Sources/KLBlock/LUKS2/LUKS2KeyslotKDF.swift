import Glibc

/// The KDF and costs of a keyslot klfs writes (format, add keyslot).
public enum LUKS2KeyslotKDF: Sendable, Equatable {
    /// `memoryKiB` in KiB, `threads` lanes, as LUKS2 stores them.
    case argon2(LUKS2Argon2Variant, time: Int, memoryKiB: Int, threads: Int)
    case pbkdf2(hash: String, iterations: Int)

    /// The default: argon2id with fixed costs instead of cryptsetup's
    /// 2-second benchmark, so the result does not depend on the load of the
    /// machine at format time (docs/LUKS2.md, "KDF costs"): 4 passes (the
    /// cryptsetup minimum), 1 GiB of memory but at most a quarter of the
    /// physical memory and at least 64 MiB, min(4, online CPUs) lanes.
    public static func defaultArgon2id() -> LUKS2KeyslotKDF { defaultArgon2(.argon2id) }

    /// The default costs with either Argon2 variant.
    public static func defaultArgon2(_ variant: LUKS2Argon2Variant) -> LUKS2KeyslotKDF {
        let physicalKiB = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
        let memoryKiB = max(64 * 1024, min(1024 * 1024, physicalKiB / 4))
        let threads = max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        return .argon2(variant, time: 4, memoryKiB: memoryKiB, threads: threads)
    }

    /// This KDF with the costs given in place of its own (cryptsetup's
    /// --pbkdf-force-iterations, --pbkdf-memory, --pbkdf-parallel);
    /// `iterations` is Argon2's passes or PBKDF2's iterations, and the
    /// Argon2 costs do not apply to pbkdf2.
    public func with(iterations: Int?, memoryKiB: Int?, threads: Int?) -> LUKS2KeyslotKDF {
        switch self {
        case .argon2(let variant, let time, let memory, let lanes):
            return .argon2(variant, time: iterations ?? time, memoryKiB: memoryKiB ?? memory, threads: threads ?? lanes)
        case .pbkdf2(let hash, let count):
            return .pbkdf2(hash: hash, iterations: iterations ?? count)
        }
    }

    /// pbkdf2-sha256 with 1,000,000 iterations (above OWASP's 600,000 for
    /// PBKDF2-HMAC-SHA256), for systems that want a FIPS-style KDF.
    public static let defaultPBKDF2 = LUKS2KeyslotKDF.pbkdf2(hash: "sha256", iterations: 1_000_000)

    /// The KDF with a fresh random salt, as a keyslot stores it.
    func parameters(salt: [UInt8]) -> LUKS2KDFParameters {
        switch self {
        case .argon2(let variant, let time, let memoryKiB, let threads):
            return .argon2(variant, time: time, memoryKiB: memoryKiB, threads: threads, salt: salt)
        case .pbkdf2(let hash, let iterations):
            return .pbkdf2(hash: hash, iterations: iterations, salt: salt)
        }
    }
}
