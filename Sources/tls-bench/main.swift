// tls-bench: measures in-memory TLS handshakes per second on one thread, RSA-2048 against ECDSA P-256,
// for TLS 1.3 and TLS 1.2. Both ends run in this process; the server's own share is timed separately.
// Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other load on the machine barely skews them.
// Usage: tls-bench [cpu-seconds-per-case]   (default 2)

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore
import PostOfficeTLS

/// CPU seconds used by this thread, for measuring only.
func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

struct Measurement {
    var handshakes = 0
    var elapsed = 0.0
    var serverSeconds = 0.0
    var cipher = "?"
}

/// Runs complete handshakes (and one small record each way) until `duration` seconds have passed.
func measure(
    server serverContext: TLSContext, client clientContext: TLSContext, duration: Double
) throws -> Measurement {
    var result = Measurement()
    let start = threadCPUSeconds()
    while threadCPUSeconds() - start < duration {
        let server = try TLSSession(context: serverContext)
        let client = try TLSSession(context: clientContext)
        var serverState = TLSHandshakeResult.incomplete
        var clientState = client.handshake()
        var rounds = 0
        while serverState != .complete || clientState != .complete {
            rounds += 1
            guard rounds < 16 else { throw TLSError(.handshake, operation: "tls-bench", messages: ["stuck"]) }
            let toServer = client.takeNetworkOutput()
            let serverStart = threadCPUSeconds()
            server.receiveFromNetwork(toServer)
            serverState = server.handshake()
            let toClient = server.takeNetworkOutput()
            result.serverSeconds += threadCPUSeconds() - serverStart
            if case .failed(let error) = serverState { throw error }
            client.receiveFromNetwork(toClient)
            clientState = client.handshake()
            if case .failed(let error) = clientState { throw error }
        }
        try client.writePlaintext(Array("EHLO bench\r\n".utf8))
        server.receiveFromNetwork(client.takeNetworkOutput())
        var buffer: [UInt8] = []
        let serverStart = threadCPUSeconds()
        while case .bytes = try server.readPlaintext(into: &buffer) {}
        result.serverSeconds += threadCPUSeconds() - serverStart
        guard buffer.count == 12 else { throw TLSError(.protocolViolation, operation: "tls-bench") }
        result.handshakes += 1
        result.cipher = server.cipherName ?? "?"
    }
    result.elapsed = threadCPUSeconds() - start
    return result
}

func run() throws {
    let arguments = CommandLine.arguments
    let duration = arguments.count > 1 ? Double(arguments[1]) ?? 2 : 2
    var template = Array("/tmp/tls-bench-XXXXXX".utf8CString)
    guard let created = mkdtemp(&template) else {
        throw TLSError(.fileSystem, operation: "mkdtemp", systemErrno: errno)
    }
    let directory = String(cString: created)
    defer {
        for name in ["rsa2048", "ecdsaP256"] {
            unlink(directory + "/\(name)-certificate.pem")
            unlink(directory + "/\(name)-key.pem")
        }
        rmdir(directory)
    }

    print("In-memory TLS handshakes, one thread, client and server in one process, \(duration) CPU s per case")
    print("key        version  pairs/CPU-second     server CPU ms each   server handshakes/CPU-s   cipher")
    for keyType in SelfSignedCertificate.KeyType.allCases {
        let name = keyType == .rsa2048 ? "rsa2048" : "ecdsaP256"
        let certificatePath = directory + "/\(name)-certificate.pem"
        let keyPath = directory + "/\(name)-key.pem"
        try SelfSignedCertificate.generate(
            hostName: "bench.example.test", keyType: keyType, clock: SystemClock(), random: SystemRandomSource()
        ).write(certificatePath: certificatePath, privateKeyPath: keyPath)
        let serverContext = try TLSContext(
            configuration: TLSConfiguration(certificateChainPath: certificatePath, privateKeyPath: keyPath)
        )
        for version in [TLSProtocolVersion.tls13, .tls12] {
            let clientContext = try TLSContext.makeClient(verifyingPeer: false, maximumVersion: version)
            _ = try measure(server: serverContext, client: clientContext, duration: min(0.2, duration))  // Warm up.
            let result = try measure(server: serverContext, client: clientContext, duration: duration)
            let pairRate = Double(result.handshakes) / result.elapsed
            let serverMilliseconds = result.serverSeconds / Double(result.handshakes) * 1000
            print(
                column(name, 11) + column(version.description, 9)
                    + column(String(Int(pairRate.rounded())), 21)
                    + column(format3(serverMilliseconds), 21)
                    + column(String(Int((1000 / serverMilliseconds).rounded())), 26) + result.cipher
            )
        }
    }
}

/// Three decimals without Foundation.
func format3(_ value: Double) -> String {
    let thousandths = Int((value * 1000).rounded())
    let fraction = String(thousandths % 1000)
    return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}

/// Left-aligns `text` in a column of `width` characters, always leaving at least one space.
func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

do {
    try run()
} catch {
    print("tls-bench: \(error)")
    exit(1)
}
