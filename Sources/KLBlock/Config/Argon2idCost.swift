import CSodium

/// The two cost parameters of libsodium's Argon2id (crypto_pwhash with
/// crypto_pwhash_ALG_ARGON2ID13; libsodium fixes the parallelism at 1).
public struct Argon2idCost: Sendable, Equatable, Codable {
    /// Passes over memory.
    public let opslimit: UInt64
    /// Memory in bytes.
    public let memlimit: UInt64

    public init(opslimit: UInt64, memlimit: UInt64) {
        self.opslimit = opslimit
        self.memlimit = memlimit
    }

    /// What `--kdf-ops` and `--kdf-memory-mib` give.
    public init(opslimit: UInt64, memoryMiB: UInt64) {
        let (bytes, overflow) = memoryMiB.multipliedReportingOverflow(by: mebibyte)
        self.init(opslimit: opslimit, memlimit: overflow ? .max : bytes)
    }

    /// Measured on the development machine (Xeon, Sapphire Rapids class,
    /// libsodium 1.0.18, best of 3): opslimit 4 with 256 MiB takes 0.65 s
    /// (opslimit 3: 0.52 s, opslimit 2 with 512 MiB: 0.92 s), inside the
    /// 0.5-1 s target with room on slower CPUs.
    public static let `default` = Argon2idCost(opslimit: 4, memlimit: 256 * mebibyte)

    /// libsodium's INTERACTIVE parameters: opslimit 2, 64 MiB (0.07 s
    /// here). A config below them is refused, so editing klfs.conf cannot
    /// cheapen a guess. Tests use them to stay fast.
    public static let floor = Argon2idCost(opslimit: UInt64(crypto_pwhash_opslimit_interactive()),
                                           memlimit: UInt64(crypto_pwhash_memlimit_interactive()))

    /// A hostile config must not make unlock take minutes or exhaust
    /// memory: 4 GiB, and 32 passes (about 40 s at 1 GiB here).
    public static let cap = Argon2idCost(opslimit: 32, memlimit: 4096 * mebibyte)

    /// Refuses parameters outside [floor, cap].
    public func check() throws(VolumeError) {
        if opslimit < Self.floor.opslimit || memlimit < Self.floor.memlimit {
            throw .kdfBelowFloor(opslimit: opslimit, memlimit: memlimit)
        }
        if opslimit > Self.cap.opslimit || memlimit > Self.cap.memlimit {
            throw .kdfAboveCap(opslimit: opslimit, memlimit: memlimit)
        }
    }
}
