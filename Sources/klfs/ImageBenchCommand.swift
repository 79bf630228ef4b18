import ArgumentParser

/// `klfs bench image`: the front end of bench/image, which compares the
/// plaintext file of `klfs image open` with the raw image through
/// passthrough_ll and on tmpfs (fio cases, and ext4 on loop untarring a
/// small-file tree). The options are declared here so that `--help` shows
/// them; the script does the work and checks them again.
struct ImageBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Image mode against the raw image through passthrough_ll and on tmpfs: fio, and ext4 on loop (root).",
        discussion: """
            Makes one plain image on a tmpfs and reaches it three ways: the raw file, the raw file through \
            libfuse's passthrough_ll, and the plaintext file of 'klfs image open' (one per --engine). Runs \
            fio 4 KiB random read and write at depths 1 and 16 and 1 MiB sequential read and write on each, \
            then times the untar of a small-file tree into ext4 on a loop device over each. Reports medians \
            and klfs's ratios to passthrough_ll (goal >= 0.9) and to the raw image (ext4 goal <= 1.3), \
            each the median of the rounds' ratios. \
            Everything it mounts or attaches comes down on every exit, SIGINT included. docs/BENCH.md has \
            the details and the JSON keys.
            """
    )

    @Flag(help: "A smoke run: 256 MiB image, 1 s per fio run, 2,000 files, one round.")
    var quick = false

    @Flag(help: "Print JSON instead of a table (docs/BENCH.md gives the keys).")
    var json = false

    @Option(help: "The image size, N with K, M, G or T (default 2G).")
    var size: String?

    @Option(help: "klfs engines, comma-separated, one row each: keylocker-soft (default), aesni, keylocker, auto.")
    var engine: String?

    @Option(help: "The image's sector size, 512 (default, cryptsetup plain's) or 4096: the XTS data unit.")
    var sectorSize: Int?

    @Option(help: "Seconds per fio run (default 5).")
    var runtime: Double?

    @Option(help: "The image's type: plain (default) or luks2.")
    var type: ImageType?

    @Option(help: "Rounds; medians are reported (default 3).")
    var rounds: Int?

    @Option(help: "Before each run, wait up to this many seconds for idle CPUs (default 5).")
    var settleSeconds: Double?

    @Option(help: "Files in the untarred tree (default 20,000).")
    var files: Int?

    @Option(help: "Directories they are spread over (default 200).")
    var dirs: Int?

    @Option(help: "bench/image (default: $KLFS_BENCH_IMAGE, else found next to the klfs binary or the current directory).")
    var imageScript: String?

    func run() throws {
        try reportingFailures {
            let script = try BenchScript(.image, given: imageScript)
            try script.exec(scriptArguments)
        }
    }

    /// The script's own options, as given.
    var scriptArguments: [String] {
        let flags = [("--quick", quick), ("--json", json)].filter(\.1).map(\.0)
        let options: [(String, String?)] = [
            ("--size", size), ("--engine", engine), ("--type", type?.rawValue), ("--sector-size", sectorSize.map(String.init)),
            ("--runtime", runtime.map { "\($0)" }),
            ("--rounds", rounds.map(String.init)), ("--settle-seconds", settleSeconds.map { "\($0)" }),
            ("--files", files.map(String.init)), ("--dirs", dirs.map(String.init)),
        ]
        return flags + options.flatMap { name, value in value.map { [name, $0] } ?? [] }
    }
}
