import Foundation
import KLEngine
import Testing

/// `--xts-kernel` on mount and `klfs bench engine`, and the kernels `klfs
/// cpu` lists.
@Suite struct XTSKernelCommandTests {
    /// A concrete kernel this CPU cannot run; nil on a CPU that runs them
    /// all, where the tests that need one are skipped.
    static let kernelThisCPULacks = XTSKernel.concrete.first { !CPUFeatures.detect().runs($0) }

    @Test func cpuListsEveryKernelAndWhetherItRuns() throws {
        let result = try runKLFS(["cpu"])
        #expect(result.status == 0, "\(result.standardError)")
        let line = try #require(result.standardOutput.split(separator: "\n").first { $0.hasPrefix("XTS kernels:") })
        let features = CPUFeatures.detect()
        for kernel in XTSKernel.concrete {
            #expect(line.contains("\(kernel.rawValue) \(features.runs(kernel) ? "yes" : "no")"), "\(line)")
        }
        let best = try features.resolve(.auto).rawValue
        #expect(result.standardOutput.contains("XTS kernel:     \(best) by default"))
    }

    /// A file written through a mount on one kernel reads back through a
    /// mount on every other: the kernels make the same ciphertext.
    @Test func aVolumeWrittenOnOneKernelReadsOnEveryOther() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let kernels = CPUFeatures.detect().xtsKernels
        let contents = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let file = URL(fileURLWithPath: volume.mountPoint + "/data")
        try volume.requireMount(["--xts-kernel", kernels[0].rawValue])
        try contents.write(to: file)
        volume.unmount()
        for kernel in kernels {
            // As fstab gives it, for the engines that take one.
            for engine in ["keylocker-soft", "aesni"] {
                try volume.requireMount(["-o", "xts_kernel=\(kernel.rawValue)"], engine: engine)
                #expect(try Data(contentsOf: file) == contents, "\(engine) on \(kernel)")
                volume.unmount()
            }
        }
    }

    @Test(.enabled(if: kernelThisCPULacks != nil, "this CPU runs every XTS kernel"))
    func mountRefusesAKernelTheCPULacks() throws {
        let lacking = try #require(Self.kernelThisCPULacks)
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let result = try volume.mount(["--xts-kernel", lacking.rawValue])
        #expect(result.status == 20, "\(result.standardError)")
        #expect(result.standardError.contains("XTS kernel \(lacking.rawValue) cannot run on this CPU: it lacks "))
        #expect(!volume.isMounted)
    }

    @Test func mountRefusesAKernelForTheKeyLockerEngine() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let result = try volume.mount(["--emulate-keylocker", "--xts-kernel", "aesni-xmm"], engine: "keylocker")
        #expect(result.status == 64, "\(result.standardError)")
        #expect(result.standardError.contains("engine keylocker runs its own Key Locker kernel"))
        let unknown = try volume.mount(["-o", "xts_kernel=avx-9000"])
        #expect(unknown.status == 64 && unknown.standardError.contains("unknown XTS kernel 'avx-9000'"))
        #expect(!volume.isMounted)
    }

    @Test(.enabled(if: kernelThisCPULacks != nil, "this CPU runs every XTS kernel"))
    func benchRefusesAKernelTheCPULacks() throws {
        let lacking = try #require(Self.kernelThisCPULacks)
        let result = try runKLFS(["bench", "engine", "--xts-kernel", lacking.rawValue, "--seconds", "0.01",
                                  "--rounds", "1", "--threads", "1"])
        #expect(result.status == 20, "\(result.standardError)")
        #expect(result.standardError.contains("XTS kernel \(lacking.rawValue) cannot run on this CPU"))
    }

    /// One named kernel: the aesni and keylocker-soft rows are that
    /// kernel's only, and the table says which.
    @Test func benchOnOneKernelMeasuresOnlyIt() throws {
        let result = try runKLFS(["bench", "engine", "--xts-kernel", "aesni-xmm", "--seconds", "0.01",
                                  "--rounds", "1", "--threads", "1"])
        #expect(result.status == 0, "\(result.standardError)")
        // Table rows, not the ratio lines ("aesni aesni-xmm / openssl, ...").
        let rows = result.standardOutput.split(separator: "\n").filter {
            ($0.hasPrefix("aesni ") || $0.hasPrefix("keylocker-soft ")) && !$0.contains(" / ")
        }
        #expect(rows.count == 2 * 8)
        #expect(rows.allSatisfy { $0.split(separator: " ", omittingEmptySubsequences: true)[1] == "aesni-xmm" })
    }
}
