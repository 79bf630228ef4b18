import KLEngine

/// LOADIWKEY's cost on an emulated machine, as the emulator models it
/// (EmulatedMachine's configurable cost, burnt in TSC ticks), measured in
/// this process on a machine of its own. The daemon's newKey event runs
/// the same LOADIWKEY (KeySource 1), whose cost hides in that event's
/// round trip over the socket.
struct LoadIWKeyReport: Codable {
    var configuredSoftwareKeyCycles: UInt64
    var configuredRandomKeyCycles: UInt64
    /// KeySource 0, a key software chose.
    var softwareKeyTicks: Distribution
    var softwareKeyMicros: Distribution
    /// KeySource 1, the hardware random source.
    var randomKeyTicks: Distribution
    var randomKeyMicros: Distribution

    static func measure(rounds: Int) throws(EngineError) -> LoadIWKeyReport {
        let machine = try EmulatedMachine()
        let cost = machine.loadIWKeyCost
        let software = try samples(rounds) { () throws(EngineError) in
            try machine.loadIWKey(IWKeyAttributes(noBackup: true, keySource: .software))
        }
        let random = try samples(rounds) { () throws(EngineError) in
            try machine.loadIWKey(.hardwareRandomWithBackup)
        }
        return LoadIWKeyReport(configuredSoftwareKeyCycles: cost.softwareKeyCycles,
                               configuredRandomKeyCycles: cost.randomKeyCycles,
                               softwareKeyTicks: software.ticks, softwareKeyMicros: software.micros,
                               randomKeyTicks: random.ticks, randomKeyMicros: random.micros)
    }

    /// `rounds` LOADIWKEYs: the ticks each reported, and its wall time.
    private static func samples(_ rounds: Int, _ load: () throws(EngineError) -> UInt64)
        throws(EngineError) -> (ticks: Distribution, micros: Distribution) {
        var ticks: [Double] = [], micros: [Double] = []
        for _ in 0..<max(rounds, 1) {
            let start = MonotonicClock.nanoseconds()
            ticks.append(Double(try load()))
            micros.append(Double(MonotonicClock.nanoseconds() - start) / 1000)
        }
        return (Distribution(ticks)!, Distribution(micros)!)
    }
}
