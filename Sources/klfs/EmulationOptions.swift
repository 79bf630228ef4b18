import ArgumentParser
import KLEngine

/// `--emulate-keylocker`, shared by every command that touches an engine.
struct EmulationOptions: ParsableArguments {
    @Flag(name: .customLong("emulate-keylocker"),
          help: "Run the real Key Locker code under klfs's instruction emulator (CPUID faulting + SIGILL), for CPUs without Key Locker.")
    var emulateKeyLocker = false

    /// Installs the emulator if asked. Call first, on the main thread, so
    /// every thread created later sees the emulated CPUID.
    func apply() throws(EngineError) {
        if emulateKeyLocker { try KeyLockerEmulator.install() }
    }
}
