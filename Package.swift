// swift-tools-version: 6.0
// PostOffice: an embeddable mail delivery agent (SMTP in, Maildir, POP3 out).
// No Swift package dependencies, by promise: only the toolchain and C system libraries.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "PostOffice",
    // Linux-only: the event loop is epoll (CLinuxEvents), so no `platforms:` list of Apple systems.
    products: [
        .library(name: "PostOffice", targets: ["PostOffice"]),
        .library(name: "PostOfficeTesting", targets: ["PostOfficeTesting"]),
        .executable(name: "postoffice", targets: ["postoffice"]),
    ],
    dependencies: [],
    targets: [
        .systemLibrary(name: "CCrypt", pkgConfig: "libcrypt", providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLinuxEvents"),
        .systemLibrary(name: "CByteScan"),
        .target(name: "PostOfficeCore", swiftSettings: strict),
        .target(name: "PostOfficeMaildir", dependencies: ["PostOfficeCore", "CLinuxEvents"], swiftSettings: strict),
        .target(name: "PostOfficeAccounts", dependencies: ["PostOfficeCore", "CCrypt"], swiftSettings: strict),
        .target(
            name: "PostOfficeDelivery",
            dependencies: ["PostOfficeCore", "PostOfficeMaildir"],
            swiftSettings: strict
        ),
        .target(name: "PostOfficeSMTP", dependencies: ["PostOfficeCore", "PostOfficeSASL"], swiftSettings: strict),
        .target(name: "PostOfficeQueue", dependencies: ["PostOfficeCore"], swiftSettings: strict),
        .target(name: "PostOfficeDSN", dependencies: ["PostOfficeCore"], swiftSettings: strict),
        .target(name: "PostOfficeSASL", dependencies: ["PostOfficeCore"], swiftSettings: strict),
        .target(name: "PostOfficePOP3", dependencies: ["PostOfficeCore", "PostOfficeSASL", "CByteScan"], swiftSettings: strict),
        .target(name: "PostOfficeTLS", dependencies: ["PostOfficeCore", "COpenSSL"], swiftSettings: strict),
        .target(name: "PostOfficeDNS", dependencies: ["PostOfficeCore"], swiftSettings: strict),
        .target(
            name: "PostOfficeSMTPClient", dependencies: ["PostOfficeCore", "PostOfficeSMTP", "PostOfficeSASL"],
            swiftSettings: strict),
        .target(name: "PostOfficeSPF", dependencies: ["PostOfficeCore"], swiftSettings: strict),
        .target(name: "PostOfficeDKIM", dependencies: ["PostOfficeCore", "COpenSSL"], swiftSettings: strict),
        .target(
            name: "PostOffice",
            dependencies: [
                "PostOfficeCore", "PostOfficeMaildir", "PostOfficeAccounts", "PostOfficeDelivery",
                "PostOfficeSMTP", "PostOfficeSMTPClient", "PostOfficePOP3", "PostOfficeTLS", "PostOfficeQueue", "PostOfficeDNS",
                "PostOfficeDSN", "PostOfficeSPF", "PostOfficeDKIM", "PostOfficeSASL", "CLinuxEvents",
            ],
            swiftSettings: strict
        ),
        .target(name: "PostOfficeTesting", dependencies: ["PostOffice", "PostOfficeTLS", "PostOfficeSASL"], swiftSettings: strict),
        .executableTarget(
            name: "postoffice", dependencies: ["PostOffice"],
            swiftSettings: strict),
        .executableTarget(name: "maildir-torture", dependencies: ["PostOfficeMaildir"]),
        .executableTarget(name: "tls-bench", dependencies: ["PostOfficeTLS"]),

        // Fuzz targets: replay tools in a normal build, libFuzzer binaries when built by .ci/fuzz.sh.
        .target(name: "PostOfficeFuzzSupport", swiftSettings: strict),
        .executableTarget(name: "fuzz-pop3", dependencies: ["PostOfficeFuzzSupport", "PostOfficePOP3"], swiftSettings: strict),
        .executableTarget(name: "fuzz-bytestuffer", dependencies: ["PostOfficeFuzzSupport", "PostOfficePOP3"], swiftSettings: strict),
        .executableTarget(
            name: "fuzz-address-path", dependencies: ["PostOfficeFuzzSupport", "PostOfficeDelivery"], swiftSettings: strict
        ),
        .executableTarget(name: "fuzz-smtp-parser", dependencies: ["PostOfficeFuzzSupport", "PostOfficeSMTP"], swiftSettings: strict),
        .executableTarget(name: "fuzz-smtp-session", dependencies: ["PostOfficeFuzzSupport", "PostOfficeSMTP"], swiftSettings: strict),
        .executableTarget(name: "fuzz-smtp-reply", dependencies: ["PostOfficeFuzzSupport", "PostOfficeSMTP"], swiftSettings: strict),
        .executableTarget(name: "fuzz-smtp-data", dependencies: ["PostOfficeFuzzSupport", "PostOfficeSMTP"], swiftSettings: strict),
        .executableTarget(
            name: "fuzz-maildir-name", dependencies: ["PostOfficeFuzzSupport", "PostOfficeMaildir"], swiftSettings: strict
        ),
        .executableTarget(name: "fuzz-dns-message", dependencies: ["PostOfficeFuzzSupport", "PostOfficeDNS"], swiftSettings: strict),
        .executableTarget(
            name: "fuzz-dkim-signature", dependencies: ["PostOfficeFuzzSupport", "PostOfficeDKIM"], swiftSettings: strict
        ),
        .executableTarget(
            name: "fuzz-proxy-header", dependencies: ["PostOfficeFuzzSupport", "PostOfficeCore"], swiftSettings: strict
        ),
        .executableTarget(
            name: "postoffice-bench", dependencies: ["PostOffice", "PostOfficeAccounts", "PostOfficeSMTP", "PostOfficePOP3", "PostOfficeDKIM", "PostOfficeSPF"]),

        // Gives the test process its own TMPDIR and removes it at exit (the suites make ~1,200 directories a run).
        .target(name: "CTestScratch", path: "Tests/CTestScratch"),
        .testTarget(name: "PostOfficeCoreTests", dependencies: ["PostOfficeCore", "CTestScratch"]),
        .testTarget(name: "PostOfficeMaildirTests", dependencies: ["PostOfficeMaildir"]),
        .testTarget(name: "PostOfficeAccountsTests", dependencies: ["PostOfficeAccounts"]),
        .testTarget(name: "PostOfficeDeliveryTests", dependencies: ["PostOfficeDelivery"]),
        .testTarget(name: "PostOfficeQueueTests", dependencies: ["PostOfficeQueue"]),
        .testTarget(name: "PostOfficeDSNTests", dependencies: ["PostOfficeDSN"]),
        .testTarget(
            name: "PostOfficeSMTPTests", dependencies: ["PostOfficeSMTP", "PostOfficeTesting"], resources: [.copy("Transcripts")]),
        .testTarget(name: "PostOfficeSASLTests", dependencies: ["PostOfficeSASL"]),
        .testTarget(
            name: "PostOfficeSMTPClientTests",
            dependencies: ["PostOfficeSMTPClient", "PostOfficeCore", "PostOfficeSMTP", "PostOfficeSASL"]),
        .testTarget(name: "PostOfficePOP3Tests", dependencies: ["PostOfficePOP3"], resources: [.copy("Transcripts")]),
        .testTarget(name: "PostOfficeTLSTests", dependencies: ["PostOfficeTLS"]),
        .testTarget(name: "PostOfficeDNSTests", dependencies: ["PostOfficeDNS"]),
        .testTarget(name: "PostOfficeSPFTests", dependencies: ["PostOfficeSPF"], resources: [.copy("Resources")]),
        .testTarget(name: "PostOfficeDKIMTests", dependencies: ["PostOfficeDKIM", "PostOfficeCore"]),
        .testTarget(
            name: "PostOfficeTests",
            dependencies: ["PostOffice", "PostOfficeTesting", "PostOfficeTLS", "PostOfficeDNS", "PostOfficeSPF", "PostOfficeDKIM"],
            exclude: ["POP3LiveTranscripts"]),
    ]
)
