import ArgumentParser
import KLEngine

/// The options of every command that starts a daemon (`mount`,
/// `image open`): engine, XTS kernel, emulation, foreground.
struct DaemonOptions: ParsableArguments {
    @Option(help: "The engine that holds the keys: auto, keylocker, keylocker-soft or aesni.")
    var engine: EngineChoice?

    @Option(help: ArgumentHelp("The XTS kernel of the aesni and keylocker-soft engines: auto (the fastest this CPU runs), aesni-xmm, vaes-256 or vaes-512. The keylocker engine runs its own and refuses one.",
                               valueName: "kernel"))
    var xtsKernel: XTSKernel?

    @OptionGroup var emulation: EmulationOptions

    @Flag(name: [.customShort("f"), .customLong("foreground")], help: "Stay in the foreground (logs go to stderr).")
    var foreground = false
}
