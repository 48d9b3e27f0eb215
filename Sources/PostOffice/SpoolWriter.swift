// SpoolWriter: one message's bytes streamed into a named spool file in DATA/spool as they arrive (so memory
// never grows with message size), for sinks that hand a finished file on: the embedder's deliver hook (it gets
// the path), LMTP's per-recipient copies. The first failure is kept for ``finish()``; the sink removes the file.
// (PostOfficeDelivery's MessageSpool is the other kind: memory first, an unlinked file, replayed in chunks.)

import PostOfficeCore
import PostOfficeDelivery

/// A spool file being written, with the size appended so far and the failure that stopped it, if any.
final class SpoolWriter {
    private var file: SpoolFile?
    private var failure: DeliveryError?
    /// Bytes appended, counted even after a write failed.
    private(set) var size = 0

    /// Creates `directory/name` (it must not exist); a failure is kept for ``finish()``.
    init(directory: String, name: String) {
        do throws(DeliveryError) {
            file = try SpoolFile(directory: directory, name: name)
        } catch {
            failure = error
        }
    }

    /// Appends `bytes`; after a failure the file is gone and later bytes are only counted.
    func append(_ bytes: [UInt8]) {
        size += bytes.count
        guard failure == nil, let file else { return }
        do throws(DeliveryError) {
            try file.append(bytes)
        } catch {
            failure = error
            discard()
        }
    }

    /// Closes the file (checked) and returns its path; throws the failure that lost the message (a create,
    /// write or close error, or no file after ``discard()``). The file stays until ``discard()``.
    func finish() throws(DeliveryError) -> String {
        if let failure { throw failure }
        guard let file else { throw DeliveryError(EnhancedStatusCode(4, 3, 0), "No spool file") }
        return try file.finish()
    }

    /// Removes the file.
    func discard() {
        file?.discard()
        file = nil
    }
}
