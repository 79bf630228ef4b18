import CFuse

/// What every klfs FUSE file system (directory volume, image) gives the
/// request plumbing: its statistics. The session's user data is the file
/// system itself.
protocol ServedFilesystem: AnyObject {
    var statistics: OperationStatistics { get }
}

/// Runs a request handler for `operation` on the file system of the
/// session that received `req`, counting it and replying with its errno
/// when it throws. Every handler ends with exactly one fuse_reply_* call
/// on success.
func serve<Served: ServedFilesystem>(_ req: fuse_req_t?, _ operation: CountedOperation,
                                     _ handler: (Served, fuse_req_t) throws(SystemError) -> Void) {
    guard let req else { return }
    RequestScope.serving { () -> Void in
        // The session holds the file system for as long as it serves
        // (FUSESession), so a request borrows it: no retain and release
        // of one object from every worker's core.
        Unmanaged<Served>.fromOpaque(fuse_req_userdata(req)!)._withUnsafeGuaranteedRef { filesystem in
            do throws(SystemError) {
                filesystem.statistics.counted(operation)
                try handler(filesystem, req)
            } catch {
                fuse_reply_err(req, error.code)
            }
        }
    }
}
