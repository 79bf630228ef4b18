import CKLKernels
import Foundation
import Testing

/// The secret stack the software Key Locker unwraps on
/// (klfs_run_on_secret_stack): what runs there lives in memfd_secret
/// memory, and nothing it wrote is left when the call returns.
@Suite struct SecretStackTests {
    /// Where a body's stack buffer was, and what it returned.
    struct Trace {
        var buffer: UInt = 0
        var nestedBuffer: UInt = 0
    }

    /// A body that fills a 256-byte stack buffer with 0xAB and records
    /// where it was.
    private static let markStack: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { argument in
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            buffer.initialize(repeating: 0xAB)
            argument!.assumingMemoryBound(to: Trace.self).pointee.buffer = UInt(bitPattern: buffer.baseAddress)
        }
        return 7
    }

    @Test func aBodyRunsInSecretMemoryAndLeavesNothingThere() throws {
        try #require(klfs_memfd_secret_available(), "this kernel grants no memfd_secret")
        var trace = Trace()
        #expect(klfs_run_on_secret_stack(Self.markStack, &trace) == 7)
        let buffer = try #require(UnsafeRawPointer(bitPattern: trace.buffer))
        #expect(mapping(containing: trace.buffer).hasSuffix("/secretmem (deleted)"),
                "the body's stack is \(mapping(containing: trace.buffer))")
        #expect(UnsafeRawBufferPointer(start: buffer, count: 256).allSatisfy { $0 == 0 },
                "the body's stack buffer was not wiped")
    }

    /// A call made from a body already on the secret stack runs in place
    /// (the emulator's handler calls the software Key Locker from there),
    /// and the outer call wipes what both left.
    @Test func aNestedCallRunsInPlaceAndTheOuterCallWipesBoth() throws {
        try #require(klfs_memfd_secret_available(), "this kernel grants no memfd_secret")
        let outer: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { argument in
            let trace = argument!.assumingMemoryBound(to: Trace.self)
            var inner = Trace()
            let status = klfs_run_on_secret_stack(SecretStackTests.markStack, &inner)
            trace.pointee.nestedBuffer = inner.buffer
            return status
        }
        var trace = Trace()
        #expect(klfs_run_on_secret_stack(outer, &trace) == 7)
        let nested = try #require(UnsafeRawPointer(bitPattern: trace.nestedBuffer))
        #expect(mapping(containing: trace.nestedBuffer).hasSuffix("/secretmem (deleted)"))
        #expect(UnsafeRawBufferPointer(start: nested, count: 256).allSatisfy { $0 == 0 })
    }

    /// The line of /proc/self/maps whose range holds `address`.
    private func mapping(containing address: UInt) -> String {
        // Read to the end: String(contentsOfFile:) stops after one page of a /proc file.
        let data = (try? FileHandle(forReadingAtPath: "/proc/self/maps")?.readToEnd()) ?? nil
        let maps = String(decoding: data ?? Data(), as: UTF8.self)
        return maps.split(separator: "\n").first { line in
            let bounds = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt($0, radix: 16) }
            return bounds.count == 2 && (bounds[0]..<bounds[1]).contains(address)
        }.map(String.init) ?? "unmapped"
    }
}
