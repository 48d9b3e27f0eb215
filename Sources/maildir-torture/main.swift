// maildir-torture: delivers N messages into a Maildir with MaildirDraft and prints `ok <name> <checksum>`
// after each commit returns, so a test can SIGKILL it at any moment and check what survived.
// Usage: maildir-torture <maildir> <count> <seed>

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore
import PostOfficeMaildir

/// FNV-1a, 64 bit: a cheap checksum that any test can recompute.
func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x100_0000_01b3
    }
    return hash
}

func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// Writes a whole line to stdout with write(2): no stdio buffer that a SIGKILL could lose or tear.
func emit(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(10)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            exit(3)
        }
        offset += n
    }
}

/// A message whose last line `X-Torture-End: <fnv>` is the checksum of everything before it, so any
/// file can be checked for completeness without the `ok` line.
func makeMessage(index: Int, random: SeededRandomSource) -> [UInt8] {
    var bytes = Array("From: torture@example.test\nSubject: torture \(index) pid \(getpid())\n\n".utf8)
    let lines = Int(random.next() % 400)
    for line in 0..<lines {
        let width = Int(random.next() % 120)
        var text = "\(line) "
        for _ in 0..<width { text.unicodeScalars.append(Unicode.Scalar(UInt8(97 + random.next() % 26))) }
        bytes += Array(text.utf8)
        bytes.append(10)
    }
    bytes += Array("X-Torture-End: \(hex(fnv1a(bytes[...])))\n".utf8)
    return bytes
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[2]), let seed = UInt64(arguments[3]) else {
    emit("usage: maildir-torture <maildir> <count> <seed>")
    exit(2)
}
let maildir = Maildir(path: arguments[1])
let random = SeededRandomSource(seed: seed)
let names = MaildirUniqueNameGenerator(hostname: "torture.test", processID: getpid(), clock: SystemClock())
do {
    try maildir.create()
    for index in 0..<count {
        let message = makeMessage(index: index, random: random)
        let draft = try MaildirDraft(maildir: maildir, baseName: names.next())
        // Several writes, so a kill can land between them.
        var offset = 0
        while offset < message.count {
            let end = min(message.count, offset + 1 + Int(random.next() % 4096))
            try draft.write(Array(message[offset..<end]))
            offset = end
        }
        let virtualSize = message.count + message.filter { $0 == 10 }.count
        let name = try draft.commit(virtualSize: virtualSize)
        emit("ok \(name) \(hex(fnv1a(message[...])))")
    }
} catch {
    emit("error \(error)")
    exit(1)
}
