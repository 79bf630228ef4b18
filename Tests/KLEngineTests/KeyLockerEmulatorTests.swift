import CKLInstructionForms
import CKLKernels
import Testing
import KLTestSupport

/// The real Key Locker code path (keylocker_x86_64.S) and every instruction
/// form, run under the instruction-level emulator and compared with the
/// software model. Each test installs the emulator first: CPUID faulting is
/// per thread and Swift Testing spreads tests over threads. Test functions
/// are synchronous, so the thread counters read before and after belong to
/// the same thread.
@Suite("KeyLockerEmulator")
struct KeyLockerEmulatorTests {
    // RFLAGS bits the Key Locker instructions define.
    static let zeroFlag: UInt64 = 1 << 6
    static let arithmeticFlags: UInt64 = 0x8D5 // CF PF AF ZF SF OF
    static let reservedAndInterruptFlags: UInt64 = 0x202

    /// The counter of a klfs_probe_instruction (the enums share their order).
    static func counter(of instruction: UInt32) -> KeyPath<klfs_emulator_counters, UInt64> {
        let inOrder: [KeyPath<klfs_emulator_counters, UInt64>] = [
            \.encodekey128, \.encodekey256, \.aesenc128kl, \.aesdec128kl, \.aesenc256kl,
            \.aesdec256kl, \.aesencwide128kl, \.aesdecwide128kl, \.aesencwide256kl,
            \.aesdecwide256kl,
        ]
        return inOrder[Int(instruction)]
    }

    init() throws {
        try #require(klfs_emulator_install() == 0)
    }

    @Test func cpuidReportsKeyLockerWithEveryRestrictionAndTheBackupMSRs() {
        let before = threadCounters()
        var features = klfs_cpu_features()
        klfs_cpu_detect(&features)
        #expect(features.keylocker && features.aeskle && features.wide_kl)
        #expect(features.restrict_cpl0 && features.restrict_no_encrypt && features.restrict_no_decrypt)
        #expect(features.iwkey_nobackup && features.iwkey_random && features.iwkey_backup)
        #expect(features.max_basic_leaf >= 0x19)
        #expect(threadCounters().cpuid > before.cpuid)
        #expect(klfs_emulator_is_installed())
    }

    @Test func everyInstructionFormMatchesTheSoftwareModel() throws {
        var generator = SeededGenerator(seed: 0x4B4C_5052_4F42)
        let formCount = klfs_probe_form_count()
        #expect(formCount == 164)
        for index in 0..<formCount {
            let form = klfs_probe_form_at(index)!.pointee
            if form.instruction <= KLFS_PROBE_ENCODEKEY256.rawValue {
                try checkEncodeKey(form, using: &generator)
            } else {
                try checkAES(form, refused: false, using: &generator)
                try checkAES(form, refused: true, using: &generator)
            }
        }
    }

    @Test func refusedHandlesSetZFAndLeaveTheBlockAlone() {
        var generator = SeededGenerator(seed: 7)
        let key = randomBytes(32, using: &generator)
        let plain = randomBytes(128, using: &generator)
        let handle = encodeKey256(key, restrictions: 0)
        let noDecrypt = encodeKey256(key, restrictions: UInt32(KLFS_KL_RESTRICT_NO_DECRYPT))
        let noEncrypt = encodeKey256(key, restrictions: UInt32(KLFS_KL_RESTRICT_NO_ENCRYPT))
        var tampered = handle
        tampered[40] ^= 0x01

        typealias Instruction = (UnsafePointer<UInt8>?, UnsafeMutablePointer<UInt8>?) -> Int32
        func run(_ instruction: Instruction, _ handle: [UInt8], blocks: Int) -> (Int32, [UInt8]) {
            var data = Array(plain[0..<(16 * blocks)])
            let status = instruction(handle, &data)
            return (status, data)
        }
        let refusals: [(String, Instruction, [UInt8], Int)] = [
            ("tampered aesenc256kl", klfs_kl_aesenc256kl, tampered, 1),
            ("tampered aesdec256kl", klfs_kl_aesdec256kl, tampered, 1),
            ("tampered aesencwide256kl", klfs_kl_aesencwide256kl, tampered, 8),
            ("tampered aesdecwide256kl", klfs_kl_aesdecwide256kl, tampered, 8),
            ("no-decrypt aesdec256kl", klfs_kl_aesdec256kl, noDecrypt, 1),
            ("no-decrypt aesdecwide256kl", klfs_kl_aesdecwide256kl, noDecrypt, 8),
            ("no-encrypt aesenc256kl", klfs_kl_aesenc256kl, noEncrypt, 1),
            ("no-encrypt aesencwide256kl", klfs_kl_aesencwide256kl, noEncrypt, 8),
        ]
        for (name, instruction, handle, blocks) in refusals {
            let (status, data) = run(instruction, handle, blocks: blocks)
            #expect(Int(status) == KLFS_EHANDLE, "\(name)")
            #expect(data == Array(plain[0..<(16 * blocks)]), "\(name) wrote its destination")
        }
        // The restricted handles still do what they allow.
        #expect(run(klfs_kl_aesenc256kl, noDecrypt, blocks: 1).0 == 0)
        #expect(run(klfs_kl_aesdecwide256kl, noEncrypt, blocks: 8).0 == 0)
        #expect(run(klfs_kl_aesencwide256kl, handle, blocks: 8).1
            == aes(plain, key: key, decrypt: false))
    }

    @Test(arguments: [512, 4096, 17, 100, 4000])
    func xtsMatchesTheAESNIEngine(dataUnitSize: Int) throws {
        var generator = SeededGenerator(seed: UInt64(dataUnitSize))
        let dataKey = randomBytes(32, using: &generator)
        let tweakKey = randomBytes(32, using: &generator)
        let dataHandle = encodeKey256(dataKey, restrictions: 0)
        let tweakHandle = encodeKey256(tweakKey, restrictions: UInt32(KLFS_KL_RESTRICT_NO_DECRYPT))
        var reference = klfs_aesni_xts_key()
        klfs_aesni_xts_setup(&reference, dataKey, tweakKey)
        defer { klfs_wipe(&reference, MemoryLayout<klfs_aesni_xts_key>.size) }

        // Ten units: two batches of tweaks, one full.
        let units = 10
        // Crosses 2^64 so the data unit number's carry is exercised.
        var firstUnit = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 { firstUnit[index] = 0xFF }
        firstUnit[0] = 0xFD
        let input = randomBytes(dataUnitSize * units, using: &generator)
        for direction in [KLFS_ENCRYPT, KLFS_DECRYPT] {
            var expected = [UInt8](repeating: 0, count: input.count)
            #expect(klfs_aesni_xts_crypt(&reference, KLFS_XTS_KERNEL_AUTO, direction, input, &expected,
                                         dataUnitSize, units, firstUnit, 1) == 0)
            var output = [UInt8](repeating: 0, count: input.count)
            let before = threadCounters()
            let status = klfs_kl_xts_crypt(dataHandle, tweakHandle, direction, input, &output,
                                           dataUnitSize, units, firstUnit, 1)
            let after = threadCounters()
            #expect(status == 0)
            #expect(output == expected, "direction \(direction.rawValue)")

            guard dataUnitSize % 128 == 0 else { continue }
            // One wide encryption per batch of up to 8 tweaks, then one
            // wide instruction per 8 data blocks; nothing one block at a time.
            let tweakBatches = UInt64((units + 7) / 8)
            let dataSteps = UInt64(units * dataUnitSize / 128)
            let encrypting = direction == KLFS_ENCRYPT
            #expect(after.aesencwide256kl - before.aesencwide256kl == tweakBatches + (encrypting ? dataSteps : 0))
            #expect(after.aesdecwide256kl - before.aesdecwide256kl == (encrypting ? 0 : dataSteps))
            #expect(after.aesenc256kl == before.aesenc256kl)
            #expect(after.aesdec256kl == before.aesdec256kl)
        }
    }

    @Test func xtsWithARefusedHandleZeroesTheOutput() {
        let key = [UInt8](repeating: 0x5A, count: 32)
        var dataHandle = encodeKey256(key, restrictions: 0)
        dataHandle[63] ^= 0x80
        let tweakHandle = encodeKey256(key, restrictions: 0)
        let input = [UInt8](repeating: 1, count: 1024)
        var output = [UInt8](repeating: 0xAA, count: 1024)
        let status = klfs_kl_xts_crypt(dataHandle, tweakHandle, KLFS_ENCRYPT, input, &output,
                                       512, 2, [UInt8](repeating: 0, count: 16), 1)
        #expect(Int(status) == KLFS_EHANDLE)
        #expect(output.allSatisfy { $0 == 0 })
    }

    // MARK: - One probe against the software model

    private func checkEncodeKey(_ form: klfs_probe_form,
                                using generator: inout SeededGenerator) throws {
        let name = String(cString: form.name)
        let wide = form.instruction == KLFS_PROBE_ENCODEKEY256.rawValue
        let keyBits: UInt32 = wide ? 256 : 128
        let key = randomBytes(Int(keyBits / 8), using: &generator)
        let restrictions = UInt32.random(in: 0...7, using: &generator)
        var state = randomState(using: &generator)
        state.rflags_in = Self.reservedAndInterruptFlags | Self.arithmeticFlags
        // The upper half of the 64-bit source register must be ignored.
        state.source = 0xDEAD_BEEF_0000_0000 | UInt64(restrictions)
        state.setXMMRegister(0, Array(key[0..<16]))
        if wide { state.setXMMRegister(1, Array(key[16..<32])) }
        let before = state

        let delta = try runProbe(form, &state, handle: [UInt8](repeating: 0, count: 64))

        var expected = [UInt8](repeating: 0, count: 64)
        let iwkey = try #require(klfs_emulator_iwkey_for_testing())
        #expect(klfs_softkl_encode_key(iwkey.assumingMemoryBound(to: klfs_iwkey.self),
                                       restrictions, key, keyBits, &expected) == 0)
        let handleRegisters = wide ? 4 : 3
        for register in 0..<16 {
            let want: [UInt8]
            switch register {
            case 0..<handleRegisters: want = Array(expected[(16 * register)..<(16 * register + 16)])
            case handleRegisters...6: want = [UInt8](repeating: 0, count: 16)
            default: want = before.xmmRegister(register)
            }
            #expect(state.xmmRegister(register) == want, "\(name) xmm\(register)")
        }
        // NoBackup 0, KeySource 1, zero-extended into the 64-bit register.
        #expect(state.destination == 2, "\(name) result")
        #expect(state.rflags_out & Self.arithmeticFlags == 0, "\(name) flags")
        #expect(delta == 1, "\(name) counted \(delta) times")
    }

    private func checkAES(_ form: klfs_probe_form, refused: Bool,
                          using generator: inout SeededGenerator) throws {
        let name = String(cString: form.name) + (refused ? " (refused)" : "")
        let instruction = klfs_probe_instruction(form.instruction)
        let aes256 = [KLFS_PROBE_AESENC256KL, KLFS_PROBE_AESDEC256KL,
                      KLFS_PROBE_AESENCWIDE256KL, KLFS_PROBE_AESDECWIDE256KL].contains(instruction)
        let decrypt = [KLFS_PROBE_AESDEC128KL, KLFS_PROBE_AESDEC256KL,
                       KLFS_PROBE_AESDECWIDE128KL, KLFS_PROBE_AESDECWIDE256KL].contains(instruction)
        let wide = form.instruction >= KLFS_PROBE_AESENCWIDE128KL.rawValue
        let key = randomBytes(aes256 ? 32 : 16, using: &generator)

        var handle = [UInt8](repeating: 0, count: 64)
        let iwkey = try #require(klfs_emulator_iwkey_for_testing())
        #expect(klfs_softkl_encode_key(iwkey.assumingMemoryBound(to: klfs_iwkey.self), 0, key,
                                       aes256 ? 256 : 128, &handle) == 0)
        if refused { handle[20] ^= 0x04 } // inside the integrity tag

        var state = randomState(using: &generator)
        // Start with every defined flag opposite to what the instruction must leave.
        state.rflags_in = Self.reservedAndInterruptFlags
            | (refused ? Self.arithmeticFlags & ~Self.zeroFlag : Self.arithmeticFlags)
        let before = state

        let delta = try runProbe(form, &state, handle: handle)

        let first = wide ? 0 : Int(form.xmm_destination)
        let count = wide ? 8 : 1
        let original = (first..<(first + count)).flatMap { before.xmmRegister($0) }
        let result = refused ? original : aes(original, key: key, decrypt: decrypt)
        for register in 0..<16 {
            let want = (first..<(first + count)).contains(register)
                ? Array(result[(16 * (register - first))..<(16 * (register - first) + 16)])
                : before.xmmRegister(register)
            #expect(state.xmmRegister(register) == want, "\(name) xmm\(register)")
        }
        #expect(state.rflags_out & Self.arithmeticFlags == (refused ? Self.zeroFlag : 0),
                "\(name) flags \(String(state.rflags_out, radix: 16))")
        #expect(delta == 1, "\(name) counted \(delta) times")
    }

    /// Runs one probe; returns how often the emulator counted its instruction.
    private func runProbe(_ form: klfs_probe_form, _ state: inout klfs_probe_state,
                          handle: [UInt8]) throws -> UInt64 {
        let counter = Self.counter(of: form.instruction)
        let before = threadCounters()[keyPath: counter]
        try #require(form.run != nil)
        form.run!(&state, handle)
        return threadCounters()[keyPath: counter] - before
    }

    // MARK: - Helpers

    private func threadCounters() -> klfs_emulator_counters {
        var counters = klfs_emulator_counters()
        klfs_emulator_thread_counters(&counters)
        return counters
    }

    private func randomState(using generator: inout SeededGenerator) -> klfs_probe_state {
        var state = klfs_probe_state()
        for register in 0..<16 { state.setXMMRegister(register, randomBytes(16, using: &generator)) }
        return state
    }

    private func encodeKey256(_ key: [UInt8], restrictions: UInt32) -> [UInt8] {
        var handle = [UInt8](repeating: 0, count: 64)
        #expect(klfs_kl_encodekey256(restrictions, key, &handle) == 2)
        return handle
    }

    /// ECB with the raw key through klfs_aes: what the handle must amount to.
    private func aes(_ blocks: [UInt8], key: [UInt8], decrypt: Bool) -> [UInt8] {
        var schedule = klfs_aes_key()
        var output = blocks
        let bits = UInt32(key.count * 8)
        if decrypt {
            #expect(klfs_aes_expand_key(key, bits, nil, &schedule) == 0)
            klfs_aes_decrypt_blocks(&schedule, blocks, &output, blocks.count / 16)
        } else {
            #expect(klfs_aes_expand_key(key, bits, &schedule, nil) == 0)
            klfs_aes_encrypt_blocks(&schedule, blocks, &output, blocks.count / 16)
        }
        klfs_wipe(&schedule, MemoryLayout<klfs_aes_key>.size)
        return output
    }
}

extension klfs_probe_state {
    func xmmRegister(_ register: Int) -> [UInt8] {
        withUnsafeBytes(of: xmm) { Array($0[(16 * register)..<(16 * register + 16)]) }
    }

    mutating func setXMMRegister(_ register: Int, _ value: [UInt8]) {
        precondition(value.count == 16)
        withUnsafeMutableBytes(of: &xmm) { registers in
            registers.baseAddress!.advanced(by: 16 * register).copyMemory(from: value, byteCount: 16)
        }
    }
}
