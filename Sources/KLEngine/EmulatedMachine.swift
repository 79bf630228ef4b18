import CKLKernels
import Glibc

/// A machine under the Key Locker emulator (klfs_emulator.h): the IWKey its
/// processors hold and its platform storage for the IWKey backup, both in
/// secret memory. ``KeyLockerEmulator/install()`` boots a default machine,
/// which every thread runs on; a test makes a machine of its own and runs
/// its threads on it, so that changing that machine's IWKey leaves other
/// tests' handles alone. LOADIWKEY and the backup MSRs are ring 0 only on a
/// real CPU: these methods stand in for the kernel executing them. Every
/// method is thread-safe, also against Key Locker instructions that other
/// threads execute on the machine meanwhile.
public final class EmulatedMachine: @unchecked Sendable {
    let machine: OpaquePointer
    /// Only a machine made by ``init()`` is destroyed with its object.
    private let owned: Bool

    /// A machine of its own, booted as the default one is: an IWKey loaded
    /// with ``IWKeyAttributes/hardwareRandomWithBackup``, no backup yet.
    /// Its IWKey and backup are wiped when the object goes.
    public init() throws(EngineError) {
        guard let machine = klfs_emulator_machine_create() else {
            throw .secretMemoryUnavailable(errno: errno)
        }
        self.machine = machine
        owned = true
    }

    private init(borrowing machine: OpaquePointer) {
        self.machine = machine
        owned = false
    }

    deinit {
        if owned { klfs_emulator_machine_destroy(machine) }
    }

    /// The machine the calling thread's Key Locker instructions run on (the
    /// default one, or the one a ``run(_:)`` put it on); nil before the
    /// emulator is installed. Use it while the thread stays there.
    public static var current: EmulatedMachine? {
        klfs_emulator_current_machine().map { EmulatedMachine(borrowing: $0) }
    }

    /// Runs `body` with the calling thread's Key Locker instructions on this
    /// machine, then puts the thread back on the machine it was on.
    public func run<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let previous = klfs_emulator_switch_machine(machine)
        defer { klfs_emulator_switch_machine(previous) }
        return try body()
    }

    /// What one LOADIWKEY costs on this machine (defaults: the published
    /// 130 and 25,000 cycles).
    public var loadIWKeyCost: LoadIWKeyCost {
        get {
            var cost = klfs_loadiwkey_cost()
            klfs_emulator_loadiwkey_cost(machine, &cost)
            return LoadIWKeyCost(softwareKeyCycles: cost.software_key_cycles,
                                 randomKeyCycles: cost.random_key_cycles)
        }
        set {
            var cost = klfs_loadiwkey_cost(software_key_cycles: newValue.softwareKeyCycles,
                                           random_key_cycles: newValue.randomKeyCycles)
            klfs_emulator_set_loadiwkey_cost(machine, &cost)
        }
    }

    /// LOADIWKEY with `attributes` in EAX, which ENCODEKEY reports from then
    /// on. `operands` holds the key material of its registers, 48 bytes (the
    /// integrity key, then the encryption key); nil lets the kernel's
    /// stand-in draw them from getrandom. KeySource 1 mixes hardware
    /// randomness into them; KeySource 0 loads them as they are, so the same
    /// operands give the same IWKey again. Handles wrapped under the
    /// previous IWKey are refused from then on, unless it comes back.
    /// Returns the TSC ticks it took: at least ``loadIWKeyCost``'s figure
    /// for the KeySource.
    @discardableResult
    public func loadIWKey(_ attributes: IWKeyAttributes, operands: SecretBytes? = nil) throws(EngineError) -> UInt64 {
        precondition(operands.map { $0.count == 48 } ?? true, "LOADIWKEY takes 48 bytes of key material")
        var cycles: UInt64 = 0
        let status = withOperands(operands) { klfs_emulator_load_iwkey(machine, attributes.rawValue, $0, &cycles) }
        switch status {
        case Int32(KLFS_OK): return cycles
        case Int32(KLFS_EINVAL): throw .emulatedGeneralProtection("LOADIWKEY with EAX \(hex(attributes.rawValue))")
        case Int32(KLFS_ENOMEM): throw .secretMemoryUnavailable(errno: errno)
        default: throw .randomUnavailable(errno: -status)
        }
    }

    private func withOperands(_ operands: SecretBytes?, _ body: (UnsafePointer<UInt8>?) -> Int32) -> Int32 {
        guard let operands else { return body(nil) }
        return operands.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
    }

    /// WRMSR of a backup MSR.
    public func writeMSR(_ msr: IWKeyBackupMSR, _ value: UInt64) throws(EngineError) {
        let status = klfs_emulator_write_msr(machine, msr.rawValue, value)
        if status == Int32(KLFS_EINVAL) {
            throw .emulatedGeneralProtection("WRMSR \(hex(msr.rawValue)), \(hex(value))")
        }
        if let error = EngineError(status: status) { throw error }
    }

    /// RDMSR of a backup MSR.
    public func readMSR(_ msr: IWKeyBackupMSR) throws(EngineError) -> UInt64 {
        var value: UInt64 = 0
        guard klfs_emulator_read_msr(machine, msr.rawValue, &value) == Int32(KLFS_OK) else {
            throw .emulatedGeneralProtection("RDMSR \(hex(msr.rawValue))")
        }
        return value
    }

    /// Copies the IWKey to platform storage and checks IA32_COPY_STATUS, as
    /// a kernel does before S3 or S4.
    public func backUpIWKey() throws(EngineError) {
        try writeMSR(.copyLocalToPlatform, UInt64(KLFS_COPY_COMMAND))
        guard try lastCopySucceeded() else { throw .iwkeyBackupRefused }
    }

    /// Makes the backed-up IWKey current again and checks IA32_COPY_STATUS,
    /// as a kernel does on resume.
    public func restoreIWKey() throws(EngineError) {
        try writeMSR(.copyPlatformToLocal, UInt64(KLFS_COPY_COMMAND))
        guard try lastCopySucceeded() else { throw .iwkeyBackupInvalid }
    }

    private func lastCopySucceeded() throws(EngineError) -> Bool {
        try readMSR(.copyStatus) & UInt64(KLFS_COPY_STATUS_SUCCESS) != 0
    }
}

/// What one LOADIWKEY costs, in TSC ticks burnt before the new IWKey takes
/// effect.
public struct LoadIWKeyCost: Sendable, Equatable {
    /// KeySource 0, a key software chose.
    public var softwareKeyCycles: UInt64
    /// KeySource 1, the hardware random source.
    public var randomKeyCycles: UInt64

    public init(softwareKeyCycles: UInt64, randomKeyCycles: UInt64) {
        self.softwareKeyCycles = softwareKeyCycles
        self.randomKeyCycles = randomKeyCycles
    }

    /// The figures from the Linux Key Locker RFC thread: about 130 cycles
    /// with a software key, about 25,000 with the hardware random source.
    public static let published = LoadIWKeyCost(softwareKeyCycles: 130, randomKeyCycles: 25_000)
}

/// The IWKey backup MSRs (Key Locker spec 343965), as the emulator models them.
public enum IWKeyBackupMSR: UInt32, Sendable {
    /// IA32_COPY_LOCAL_TO_PLATFORM, write-only: bit 0 copies the IWKey to
    /// platform storage, unless it was loaded with NoBackup.
    case copyLocalToPlatform = 0xD91
    /// IA32_COPY_PLATFORM_TO_LOCAL, write-only: bit 0 loads the backed-up
    /// IWKey, if a backup is valid.
    case copyPlatformToLocal = 0xD92
    /// IA32_COPY_STATUS, read-only: bit 0, the last copy either way succeeded.
    case copyStatus = 0x990
    /// IA32_IWKEYBACKUP_STATUS, read-only: bit 0 backup valid, bit 2 backup
    /// storage read/write error, bit 3 IWKeyBackup consumed.
    case iwkeyBackupStatus = 0x991
}

private func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16, uppercase: true) }
