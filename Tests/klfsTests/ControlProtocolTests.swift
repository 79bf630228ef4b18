import Foundation
import Testing
@testable import klfs

/// The control socket's request lines and socket names (docs/FUSE.md,
/// "The control socket").
@Suite struct ControlProtocolTests {
    @Test func everyRequestReadsBackFromItsLine() {
        let requests: [ControlRequest] = [.status, .suspend, .lock, .resume(.passphrase, length: 28),
                                          .resume(.masterkey, length: 64), .resume(.keyfile, length: 8 << 20),
                                          .iwkeyEvent("newKey")]
        for request in requests {
            #expect(ControlRequest(line: request.line) == request, "\(request.line)")
        }
    }

    @Test func malformedLinesAreRefused() {
        for line in ["", "status now", "resume", "resume passphrase", "resume passphrase 0",
                     "resume passphrase 4097", "resume keyfile 8388609", "resume token 10", "unmount", "iwkey-event"] {
            #expect(ControlRequest(line: line) == nil, "\(line)")
        }
    }

    @Test func socketNamesDependOnlyOnTheMountPoint() {
        let name = ControlSocketPath.name(for: "/srv/plain")
        #expect(name == ControlSocketPath.name(for: "/srv/plain"))
        #expect(name != ControlSocketPath.name(for: "/srv/plain2"))
        #expect(name.hasPrefix("mount-") && name.hasSuffix(".sock") && name.count == 6 + 16 + 5)
        #expect(ControlSocketPath.socket(for: "/srv/plain", daemonUID: 0) == "/run/klfs/" + name)
    }
}
