import Foundation
import KLEngine
import Testing

/// The folder ../shared/test-vectors beside the package, or
/// $KLFS_TEST_VECTORS.
let testVectorsDirectory: URL = {
    if let path = ProcessInfo.processInfo.environment["KLFS_TEST_VECTORS"] {
        return URL(fileURLWithPath: path)
    }
    return URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/test-vectors")
}()

func bytes(hex: String) -> [UInt8] {
    var result: [UInt8] = []
    result.reserveCapacity(hex.count / 2)
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return result
}

func randomBytes<R: RandomNumberGenerator>(_ count: Int, using generator: inout R) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
}


/// Every engine, the keylocker one running under the emulator. Call on the
/// thread that uses the result: CPUID faulting is per thread.
func allEngines() throws -> [any XTSEngine] {
    try KeyLockerEmulator.install()
    let features = CPUFeatures.detect()
    return [try KeyLockerEngine(features: features), try SoftKeyLockerEngine(features: features),
            try AESNIEngine(features: features)]
}

/// An engine on one XTS kernel.
struct EngineUnderTest: Sendable, CustomTestStringConvertible, CustomStringConvertible {
    let kind: EngineKind
    /// nil for the keylocker engine, which runs its own kernel.
    let xtsKernel: XTSKernel?

    /// keylocker (under the emulator), then aesni and keylocker-soft on
    /// each kernel this CPU runs. For tests that need not show a kernel
    /// this CPU lacks as skipped: EveryXTSKernelTests does.
    static var runnable: [EngineUnderTest] {
        let kernels = CPUFeatures.detect().xtsKernels
        return [EngineUnderTest(kind: .keylocker, xtsKernel: nil)] + [EngineKind.aesni, .keylockerSoft].flatMap { kind in
            kernels.map { EngineUnderTest(kind: kind, xtsKernel: $0) }
        }
    }

    var description: String { xtsKernel.map { "\(kind.rawValue) on \($0.rawValue)" } ?? kind.rawValue }
    var testDescription: String { description }

    /// The engine on its kernel. Call on the thread that uses the result:
    /// CPUID faulting (the keylocker engine's emulator) is per thread.
    func makeEngine() throws -> any XTSEngine {
        if kind == .keylocker { try KeyLockerEmulator.install() }
        let engine = try KLEngine.makeEngine(kind, xtsKernel: xtsKernel ?? .auto)
        // The kernel asked for is the one the keys will run.
        #expect(engine.kernelName == (xtsKernel?.rawValue ?? XTSKernel.keyLockerKernelName))
        return engine
    }
}

/// A Key Locker engine whose IWKey a test may change: keylocker on an
/// emulated machine of the test's own, so that no other test's handles see
/// the change, or a keylocker-soft engine of its own.
struct LifecycleSubject: Sendable {
    let engine: any IWKeyLifecycle
    /// keylocker: the machine its instructions must run on.
    let machine: EmulatedMachine?

    /// Runs `body` on the calling thread with the engine's instructions on
    /// the subject's machine.
    func onItsMachine<R>(_ body: () throws -> R) throws -> R {
        guard let machine else { return try body() }
        return try machine.run(body)
    }

    /// One subject per Key Locker engine. Call on the thread that uses the
    /// result: CPUID faulting is per thread.
    static func all() throws -> [LifecycleSubject] {
        try KeyLockerEmulator.install()
        let features = CPUFeatures.detect()
        return [LifecycleSubject(engine: try KeyLockerEngine(features: features), machine: try EmulatedMachine()),
                LifecycleSubject(engine: try SoftKeyLockerEngine(features: features), machine: nil)]
    }
}

/// A wrapped key from raw test bytes (K1 || K2, 64 bytes).
func makeKey(_ engine: any XTSEngine, _ key: [UInt8]) throws -> any XTSKey {
    precondition(key.count == 64)
    return try key.withUnsafeBytes { raw in
        try engine.makeKey(dataKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: raw[0..<32])),
                           tweakKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: raw[32..<64])))
    }
}

extension XTSKey {
    func crypt(_ direction: CryptDirection, _ input: [UInt8], dataUnitSize: Int,
               firstDataUnit: UInt128) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: input.count)
        try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { destination in
                try crypt(direction, source, into: destination, dataUnitSize: dataUnitSize,
                          firstDataUnit: firstDataUnit)
            }
        }
        return output
    }
}

func openSSLCrypt(_ direction: CryptDirection, key: [UInt8], _ input: [UInt8], dataUnitSize: Int,
                  firstDataUnit: UInt128) -> [UInt8] {
    var output = [UInt8](repeating: 0, count: input.count)
    key.withUnsafeBytes { keyBytes in
        let openSSL = OpenSSLXTS(key: keyBytes, direction: direction)
        input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                openSSL.crypt(source, into: destination, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit)
            }
        }
    }
    return output
}

func dataUnitNumber(littleEndian bytes: [UInt8]) -> UInt128 {
    precondition(bytes.count == 16)
    return bytes.reversed().reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
}
