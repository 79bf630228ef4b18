import KLEngine
import Testing

/// The checks every XTS kernel passes, on each engine that runs it.
enum KernelCheck: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// IEEE 1619-2007 Annex B, XTS-AES-256 vectors 10-14, both directions.
    case ieeeVectors
    /// Every whole-byte NIST CAVP XTSGenAES256 vector, both directions.
    case nistVectors
    /// Random keys, unit sizes, unit counts and unit numbers against OpenSSL.
    case openSSLOnRandomInputs
    case inPlaceEqualsOutOfPlace
    /// Unit numbers stepping by 8 (dm-crypt's 4096-byte sectors in 512-byte
    /// units), across the 64-bit carry, against one OpenSSL call per unit.
    case steppedUnitNumbers
    /// 1 to 31 whole blocks, with and without stealing, against OpenSSL.
    case everyBlockCountUpTo31

    var testDescription: String { rawValue }

    func run(on engine: any XTSEngine) throws {
        switch self {
        case .ieeeVectors: try checkVectors(KLEngineTests.ieeeVectors(), on: engine)
        case .nistVectors: try checkVectors(KLEngineTests.nistVectors(), on: engine)
        case .openSSLOnRandomInputs: try OpenSSLDifferential.randomInputs(on: engine)
        case .inPlaceEqualsOutOfPlace: try OpenSSLDifferential.inPlaceEqualsOutOfPlace(on: engine)
        case .steppedUnitNumbers: try OpenSSLDifferential.steppedUnitNumbers(on: engine)
        case .everyBlockCountUpTo31: try BlockCountCheck.everyCountUpTo31(on: engine)
        }
    }
}

/// Every kernel through every check, on the aesni and keylocker-soft
/// engines; one test per kernel, so that a kernel this CPU lacks shows in
/// the report as skipped, with what it lacks, rather than as passed.
@Suite struct EveryXTSKernelTests {
    static let engines: [EngineKind] = [.aesni, .keylockerSoft]

    /// "this CPU cannot run vaes-512: it lacks AVX-512F, ..." (unused where it runs).
    static func lacking(_ kernel: XTSKernel) -> Comment {
        let missing = CPUFeatures.detect().missingFeatures(for: kernel).joined(separator: ", ")
        return Comment(rawValue: "this CPU cannot run \(kernel.rawValue): it lacks \(missing)")
    }

    static func runs(_ kernel: XTSKernel) -> Bool { CPUFeatures.detect().runs(kernel) }

    private func check(_ kind: EngineKind, on kernel: XTSKernel?, _ check: KernelCheck) throws {
        try check.run(on: EngineUnderTest(kind: kind, xtsKernel: kernel).makeEngine())
    }

    /// The keylocker engine's own kernel (under the emulator), as reference.
    @Test(arguments: KernelCheck.allCases)
    func keylockerWide(_ check: KernelCheck) throws { try self.check(.keylocker, on: nil, check) }

    @Test(.enabled(if: runs(.aesniXMM), lacking(.aesniXMM)), arguments: engines, KernelCheck.allCases)
    func aesniXMM(_ kind: EngineKind, _ check: KernelCheck) throws { try self.check(kind, on: .aesniXMM, check) }

    @Test(.enabled(if: runs(.vaes256), lacking(.vaes256)), arguments: engines, KernelCheck.allCases)
    func vaes256(_ kind: EngineKind, _ check: KernelCheck) throws { try self.check(kind, on: .vaes256, check) }

    @Test(.enabled(if: runs(.vaes512), lacking(.vaes512)), arguments: engines, KernelCheck.allCases)
    func vaes512(_ kind: EngineKind, _ check: KernelCheck) throws { try self.check(kind, on: .vaes512, check) }
}
