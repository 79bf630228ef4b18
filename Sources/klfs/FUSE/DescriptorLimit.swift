import Glibc

/// Raises the soft descriptor limit (often 1024) to the hard one, as file
/// servers do, and returns it: the ``DescriptorCache`` takes half of it.
func raiseDescriptorLimit() -> Int {
    var limit = rlimit()
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    guard getrlimit(resource, &limit) == 0 else { return 1024 }
    if limit.rlim_cur < limit.rlim_max {
        let raised = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
        if setrlimit(resource, [raised]) == 0 { limit = raised }
    }
    return Int(clamping: limit.rlim_cur)
}
