import CKLKernels
import KLEngine
import KLTestSupport
import Testing

/// Every XTS kernel against OpenSSL at the lengths where the kernels
/// differ (EveryXTSKernelTests runs it on each): each count of whole blocks
/// from 1 to 31 (the AES-NI kernel's 8- and 1-block steps, VAES-256's
/// 16-block steps and its padded tail, VAES-512's 16-, 8- and masked
/// steps), with and without a partial block (ciphertext stealing), one unit
/// and several per call, out of place and in place.
enum BlockCountCheck {
    static func everyCountUpTo31(on engine: any XTSEngine) throws {
        let seed = UInt64.random(in: .min ... .max)
        var generator = SeededGenerator(seed: seed)
        let keyBytes = randomBytes(64, using: &generator)
        let key = try makeKey(engine, keyBytes)
        for blocks in 1...31 {
            for partial in [0, 1, 15] {
                for units in [1, 3] {
                    let unit = 16 * blocks + partial
                    let first = UInt128(generator.next()) << 64 | UInt128(generator.next())
                    let plaintext = randomBytes(unit * units, using: &generator)
                    let context = "seed \(seed) \(engine.kind) on \(engine.kernelName) unit \(unit) x\(units)"
                    try checkBothWays(key, keyBytes, plaintext, unit: unit, first: first, context)
                }
            }
        }
    }

    /// Out of place and in place, each direction, against OpenSSL.
    private static func checkBothWays(_ key: any XTSKey, _ keyBytes: [UInt8], _ plaintext: [UInt8], unit: Int,
                                      first: UInt128, _ context: String) throws {
        let expected = openSSLCrypt(.encrypt, key: keyBytes, plaintext, dataUnitSize: unit, firstDataUnit: first)
        #expect(try key.crypt(.encrypt, plaintext, dataUnitSize: unit, firstDataUnit: first) == expected,
                "\(context): encrypt out of place")
        #expect(try key.crypt(.decrypt, expected, dataUnitSize: unit, firstDataUnit: first) == plaintext,
                "\(context): decrypt out of place")
        var buffer = plaintext
        try buffer.withUnsafeMutableBytes { try key.crypt(.encrypt, $0, dataUnitSize: unit, firstDataUnit: first) }
        #expect(buffer == expected, "\(context): encrypt in place")
        try buffer.withUnsafeMutableBytes { try key.crypt(.decrypt, $0, dataUnitSize: unit, firstDataUnit: first) }
        #expect(buffer == plaintext, "\(context): decrypt in place")
    }
}

/// Choosing a kernel: what auto picks, what a CPU without a kernel says,
/// and that the C dispatch never runs a kernel the CPU lacks.
@Suite struct XTSKernelChoiceTests {
    /// A CPU with the given instruction sets, all others absent.
    private func cpu(vaes: Bool, avx2: Bool, avx512: Bool, osSavesYMM: Bool = true) -> CPUFeatures {
        var raw = klfs_cpu_features()
        (raw.aesni, raw.pclmulqdq) = (true, true)
        (raw.vaes, raw.vpclmulqdq) = (vaes, vaes)
        (raw.avx2, raw.os_saves_ymm) = (avx2, osSavesYMM)
        (raw.avx512f, raw.avx512bw, raw.avx512vl) = (avx512, avx512, avx512)
        raw.os_saves_zmm = avx512 && osSavesYMM
        return CPUFeatures(raw: raw)
    }

    @Test func autoPicksTheWidestKernelTheCPURuns() throws {
        #expect(try cpu(vaes: true, avx2: true, avx512: true).resolve(.auto) == .vaes512)
        // Alder Lake, Raptor Lake, Zen 3.
        #expect(try cpu(vaes: true, avx2: true, avx512: false).resolve(.auto) == .vaes256)
        // Skylake: AVX-512 but no VAES.
        #expect(try cpu(vaes: false, avx2: true, avx512: true).resolve(.auto) == .aesniXMM)
        // VAES, but the OS does not save the upper halves of the registers.
        #expect(try cpu(vaes: true, avx2: true, avx512: true, osSavesYMM: false).resolve(.auto) == .aesniXMM)
    }

    @Test func aKernelTheCPULacksIsAnErrorNamingWhatIsMissing() throws {
        let zen3 = cpu(vaes: true, avx2: true, avx512: false)
        let expected = EngineError.xtsKernelUnavailable(.vaes512, missing: ["AVX-512F", "AVX-512BW", "AVX-512VL",
                                                                            "ZMM state enabled by the OS"],
                                                        runnable: [.aesniXMM, .vaes256])
        #expect(throws: expected) { try AESNIEngine(features: zen3, xtsKernel: .vaes512) }
        #expect(throws: expected) { try SoftKeyLockerEngine(features: zen3, xtsKernel: .vaes512) }
        #expect(expected.description
            == "XTS kernel vaes-512 cannot run on this CPU: it lacks AVX-512F, AVX-512BW, AVX-512VL, "
            + "ZMM state enabled by the OS (kernels it runs: aesni-xmm, vaes-256)")

        let sandyBridge = cpu(vaes: false, avx2: false, avx512: false)
        #expect(throws: EngineError.xtsKernelUnavailable(.vaes256, missing: ["VAES", "VPCLMULQDQ", "AVX2"],
                                                         runnable: [.aesniXMM])) {
            try AESNIEngine(features: sandyBridge, xtsKernel: .vaes256)
        }
    }

    @Test func theForcedKernelIsTheOneEngineAndKeyReport() throws {
        let features = CPUFeatures.detect()
        for kernel in features.xtsKernels {
            for engine in try [AESNIEngine(xtsKernel: kernel) as any XTSEngine,
                               SoftKeyLockerEngine(xtsKernel: kernel)] {
                #expect(engine.kernelName == kernel.rawValue)
                let key = try makeKey(engine, [UInt8](0..<64))
                #expect(key.kernelName == kernel.rawValue)
            }
        }
        #expect(try AESNIEngine().kernelName == features.xtsKernels.last?.rawValue)
    }

    /// The keylocker engine runs its own kernel: asking it for another is
    /// refused rather than ignored.
    @Test func theKeyLockerEngineRefusesAKernel() throws {
        for kernel in XTSKernel.concrete {
            #expect(throws: EngineError.xtsKernelNotSelectable(.keylocker)) {
                try makeEngine(EngineKind.keylocker, xtsKernel: kernel)
            }
        }
        try KeyLockerEmulator.install()
        let engine = try makeEngine(EngineKind.keylocker, xtsKernel: .auto)
        #expect(engine.kernelName == XTSKernel.keyLockerKernelName)
        #expect(try makeKey(engine, [UInt8](0..<64)).kernelName == "keylocker-wide")
    }

    /// The Swift list of what a kernel needs and the C dispatch's test
    /// agree, on this CPU and on the made-up ones.
    @Test func missingFeaturesAgreeWithTheDispatch() {
        let cpus = [CPUFeatures.detect(), cpu(vaes: true, avx2: true, avx512: true),
                    cpu(vaes: true, avx2: true, avx512: false), cpu(vaes: false, avx2: true, avx512: true),
                    cpu(vaes: true, avx2: true, avx512: true, osSavesYMM: false), CPUFeatures(raw: klfs_cpu_features())]
        for features in cpus {
            for kernel in XTSKernel.allCases {
                #expect(features.runs(kernel) == features.missingFeatures(for: kernel).isEmpty,
                        "\(kernel) on \(features.raw)")
            }
        }
    }

    /// An engine that believes the CPU runs every kernel still gets no
    /// kernel the CPU lacks: the C dispatch checks the real CPU before every
    /// call and refuses (KLFS_EUNSUPPORTED) instead of executing it.
    @Test(arguments: XTSKernel.concrete)
    func theDispatchRefusesAKernelTheRealCPULacks(_ kernel: XTSKernel) throws {
        let believesEverything = cpu(vaes: true, avx2: true, avx512: true)
        let key = try makeKey(AESNIEngine(features: believesEverything, xtsKernel: kernel), [UInt8](0..<64))
        let plaintext = [UInt8](repeating: 7, count: 4096)
        if CPUFeatures.detect().runs(kernel) {
            let expected = openSSLCrypt(.encrypt, key: [UInt8](0..<64), plaintext, dataUnitSize: 512, firstDataUnit: 1)
            #expect(try key.crypt(.encrypt, plaintext, dataUnitSize: 512, firstDataUnit: 1) == expected)
        } else {
            #expect(throws: EngineError.unavailable("the CPU lacks an instruction this kernel needs")) {
                try key.crypt(.encrypt, plaintext, dataUnitSize: 512, firstDataUnit: 1)
            }
        }
    }

    @Test func anUnknownKernelNumberIsInvalid() {
        var key = klfs_aesni_xts_key()
        let input = [UInt8](repeating: 0, count: 16), first = [UInt8](repeating: 0, count: 16)
        var output = [UInt8](repeating: 0, count: 16)
        #expect(klfs_aesni_xts_crypt(&key, klfs_xts_kernel(rawValue: 4), KLFS_ENCRYPT, input, &output, 16, 1, first, 1)
                == Int32(KLFS_EINVAL))
    }
}
