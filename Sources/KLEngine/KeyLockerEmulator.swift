import CKLKernels

/// The instruction-level Key Locker emulator (emulator.c, docs/EMULATOR.md):
/// CPUID faulting plus a SIGILL handler that executes each Key Locker
/// instruction on the software model, so the keylocker engine's real
/// machine code runs on CPUs without Key Locker. The IWKey's life cycle
/// (LOADIWKEY, the backup MSRs) is ``EmulatedMachine``'s.
public enum KeyLockerEmulator {
    /// Installs the handlers (once per process), boots the default
    /// ``EmulatedMachine`` and turns on CPUID faulting for the calling
    /// thread and the threads it creates afterwards. Call it before
    /// detecting the CPU and before starting worker threads.
    public static func install() throws(EngineError) {
        let status = klfs_emulator_install()
        guard status == 0 else { throw .emulatorUnavailable(errno: -status) }
    }

    public static var isInstalled: Bool { klfs_emulator_is_installed() }

    /// Instructions emulated on the calling thread.
    public static var threadCounters: Counters {
        var counters = klfs_emulator_counters()
        klfs_emulator_thread_counters(&counters)
        return Counters(counters)
    }

    /// Instructions emulated in the whole process.
    public static var processCounters: Counters {
        var counters = klfs_emulator_counters()
        klfs_emulator_process_counters(&counters)
        return Counters(counters)
    }

    public struct Counters: Sendable, Equatable {
        public var cpuid: UInt64
        public var encodeKey128: UInt64
        public var encodeKey256: UInt64
        public var aesenc128kl: UInt64
        public var aesdec128kl: UInt64
        public var aesenc256kl: UInt64
        public var aesdec256kl: UInt64
        public var aesencwide128kl: UInt64
        public var aesdecwide128kl: UInt64
        public var aesencwide256kl: UInt64
        public var aesdecwide256kl: UInt64

        init(_ c: klfs_emulator_counters) {
            cpuid = c.cpuid
            encodeKey128 = c.encodekey128
            encodeKey256 = c.encodekey256
            aesenc128kl = c.aesenc128kl
            aesdec128kl = c.aesdec128kl
            aesenc256kl = c.aesenc256kl
            aesdec256kl = c.aesdec256kl
            aesencwide128kl = c.aesencwide128kl
            aesdecwide128kl = c.aesdecwide128kl
            aesencwide256kl = c.aesencwide256kl
            aesdecwide256kl = c.aesdecwide256kl
        }

        /// Counts since `earlier`.
        public func since(_ earlier: Counters) -> Counters {
            var delta = self
            delta.cpuid -= earlier.cpuid
            delta.encodeKey128 -= earlier.encodeKey128
            delta.encodeKey256 -= earlier.encodeKey256
            delta.aesenc128kl -= earlier.aesenc128kl
            delta.aesdec128kl -= earlier.aesdec128kl
            delta.aesenc256kl -= earlier.aesenc256kl
            delta.aesdec256kl -= earlier.aesdec256kl
            delta.aesencwide128kl -= earlier.aesencwide128kl
            delta.aesdecwide128kl -= earlier.aesdecwide128kl
            delta.aesencwide256kl -= earlier.aesencwide256kl
            delta.aesdecwide256kl -= earlier.aesdecwide256kl
            return delta
        }
    }
}
