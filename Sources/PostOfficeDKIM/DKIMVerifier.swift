// DKIMVerifier: sans-I/O DKIM verification (RFC 6376 §6, RFC 8463). Feed the message in chunks; the header
// section is collected up to a bound, the body only streams through one hasher per distinct (c=, l=).
// Key records are a question for the caller (`keyQueries`, `provideKey`); time comes in as a parameter.

/// Bounds on what a verifier keeps or checks.
public struct DKIMVerifierLimits: Hashable, Sendable {
    /// Largest header section kept, in octets; past it every signature is a permerror.
    public var maximumHeaderBytes = 256 * 1024
    /// Signatures checked per message (each can cost a DNS query); the rest are permerror.
    public var maximumSignatures = 8

    public init(maximumHeaderBytes: Int = 256 * 1024, maximumSignatures: Int = 8) {
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumSignatures = maximumSignatures
    }
}

/// Verifies every DKIM-Signature of one message, [RFC 6376 §6](https://www.rfc-editor.org/rfc/rfc6376#section-6).
///
/// ```
/// var verifier = DKIMVerifier(now: nowSeconds)
/// verifier.receive(chunk)                      // as often as needed
/// verifier.finish()
/// for query in verifier.keyQueries { verifier.provideKey(answer, for: query) }   // TXT lookups
/// let results = verifier.results()
/// ```
public struct DKIMVerifier: Sendable {
    /// One DKIM-Signature field and what became of its parsing.
    private struct Candidate: Sendable {
        var field: DKIMHeaderField
        var parsed: Result<DKIMSignature, DKIMSignatureError>
        var signatureText: String?
        var hasherIndex: Int?
        /// Where `b=`'s value lies in the field's value (from the one parse of its tag-list), to blank it.
        var signatureRegion: Range<Int>?
    }

    private struct HasherKey: Hashable {
        var canonicalization: DKIMCanonicalization
        var length: Int?
    }

    public let limits: DKIMVerifierLimits
    /// Seconds since the epoch, for `x=`.
    public let now: Int
    /// Loaded keys shared with other verifiers; nil loads every key afresh.
    public let publicKeys: DKIMPublicKeyCache?

    private var headerBytes: [UInt8] = []
    private var inBody = false
    private var headerOverflow = false
    private var finished = false
    private var fields: [DKIMHeaderField] = []
    private var candidates: [Candidate] = []
    private var skippedSignatures = 0
    private var hasherKeys: [HasherKey] = []
    private var hashers: [DKIMBodyHasher] = []
    private var bodyHashes: [[UInt8]] = []
    private var canonicalLengths: [Int] = []
    private var answers: [DKIMKeyQuery: DKIMKeyAnswer] = [:]

    /// `now`: the verification time in seconds since the epoch (checked against `x=`). `publicKeys`: a cache
    /// the caller shares between messages, so a sender's key is loaded into OpenSSL once, not per message.
    public init(now: Int, limits: DKIMVerifierLimits = DKIMVerifierLimits(), publicKeys: DKIMPublicKeyCache? = nil) {
        self.now = now
        self.limits = limits
        self.publicKeys = publicKeys
    }

    /// Whether the header section has ended, so ``keyQueries`` is complete and lookups can start early.
    public var headersComplete: Bool { inBody || finished }

    /// Adds message bytes, as received (lines end in CRLF), in any split.
    public mutating func receive(_ bytes: some Collection<UInt8>) {
        precondition(!finished, "DKIMVerifier.receive after finish")
        // One concrete type inside: a generic called from another module is not specialized, and per-byte
        // iteration through witness tables cost more than the hashing itself.
        let done: Void? = bytes.withContiguousStorageIfAvailable { receive(contiguous: $0) }
        if done == nil { Array(bytes).withUnsafeBufferPointer { receive(contiguous: $0) } }
    }

    private mutating func receive(contiguous bytes: UnsafeBufferPointer<UInt8>) {
        if inBody {
            updateHashers(bytes)
            return
        }
        // Room for a typical header section at once, not a regrowth every few lines.
        if headerBytes.capacity == 0 { headerBytes.reserveCapacity(min(4096, limits.maximumHeaderBytes)) }
        var index = bytes.startIndex
        // A line at a time while the header section stays within its bound: found by a scan for LF and
        // appended in one copy, then checked for being the blank line that ends the section.
        while !headerOverflow, index != bytes.endIndex {
            let end = (bytes[index...].firstIndex(of: 10) ?? bytes.endIndex - 1) + 1
            guard headerBytes.count + (end - index) <= limits.maximumHeaderBytes else { break }
            headerBytes.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
            index = end
            if headerBytes.last == 10 && Self.endsHeaderSection(headerBytes) {
                startBody()
                updateHashers(UnsafeBufferPointer(rebasing: bytes[index...]))
                return
            }
        }
        while index != bytes.endIndex {
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            if headerOverflow {
                // Only looking for the end of the headers now, without keeping them.
                if byte == 10, headerBytes.last == 10 || headerBytes.suffix(2) == [10, 13] {
                    startBody()
                    updateHashers(UnsafeBufferPointer(rebasing: bytes[index...]))
                    return
                }
                headerBytes = Array((headerBytes + [byte]).suffix(2))
                continue
            }
            headerBytes.append(byte)
            if byte == 10 && Self.endsHeaderSection(headerBytes) {
                startBody()
                updateHashers(UnsafeBufferPointer(rebasing: bytes[index...]))
                return
            }
            if headerBytes.count > limits.maximumHeaderBytes {
                headerOverflow = true
                headerBytes = Array(headerBytes.suffix(2))
            }
        }
    }

    /// Ends the message. A message without a blank line is all header section and an empty body.
    public mutating func finish() {
        guard !finished else { return }
        if !inBody { startBody() }
        finished = true
        for index in hashers.indices {
            bodyHashes.append(hashers[index].finalize())
            canonicalLengths.append(hashers[index].canonicalLength)
        }
        hashers = []
    }

    /// The key records still needed, in signature order, without duplicates; empty until the headers end.
    public var keyQueries: [DKIMKeyQuery] {
        var seen = Set<DKIMKeyQuery>()
        var queries: [DKIMKeyQuery] = []
        for candidate in candidates {
            guard case .success(let signature) = candidate.parsed else { continue }
            if let expiration = signature.expiration, expiration < now { continue }  // fails without a key
            if answers[signature.keyQuery] == nil, seen.insert(signature.keyQuery).inserted {
                queries.append(signature.keyQuery)
            }
        }
        return queries
    }

    /// The caller's answer to a TXT query from ``keyQueries``.
    public mutating func provideKey(_ answer: DKIMKeyAnswer, for query: DKIMKeyQuery) {
        answers[query] = answer
    }

    /// One result per DKIM-Signature (``DKIMResult/none`` alone when there is none). Call after ``finish()``;
    /// a key never provided counts as a DNS temporary failure.
    public func results() -> [DKIMResult] {
        precondition(finished, "DKIMVerifier.results before finish")
        if headerOverflow { return [DKIMResult(status: .permerror, reason: .headerSectionTooLarge)] }
        if candidates.isEmpty && skippedSignatures == 0 { return [.none] }
        // A loop, not `candidates.map(result(for:))`: the method reference copied the whole verifier.
        var results: [DKIMResult] = []
        results.reserveCapacity(candidates.count + skippedSignatures)
        for candidate in candidates { results.append(result(for: candidate)) }
        results += Array(repeating: DKIMResult(status: .permerror, reason: .tooManySignatures), count: skippedSignatures)
        return results
    }

    // MARK: - Header section

    /// "dkim-signature", compared with each field's name as bytes (no String per field).
    private static let signatureFieldName = Array("dkim-signature".utf8)

    private static func endsHeaderSection(_ bytes: [UInt8]) -> Bool {
        // A blank line: "\n\n" or "\n\r\n", or the message starting with one.
        let count = bytes.count
        if count == 1 || (count == 2 && bytes[0] == 13) { return true }
        if count >= 2 && bytes[count - 2] == 10 { return true }
        return count >= 3 && bytes[count - 2] == 13 && bytes[count - 3] == 10
    }

    private mutating func startBody() {
        inBody = true
        guard !headerOverflow else {
            headerBytes = []
            return
        }
        fields = DKIMHeaderField.fields(of: headerBytes)
        headerBytes = []
        for field in fields where field.hasName(Self.signatureFieldName) {
            guard candidates.count < limits.maximumSignatures else {
                skippedSignatures += 1
                continue
            }
            var candidate = Candidate(field: field, parsed: .failure(.missingTag("v")))
            let value = Array(field.value)
            do {
                let list = try DKIMTagList(parsing: value)
                let signatureTag = list.tag("b")
                candidate.signatureText = signatureTag.map { DKIMTagList.removingWhitespace($0.value) }
                candidate.signatureRegion = signatureTag?.valueRegion
                candidate.parsed = .success(try DKIMSignature(tags: list))
            } catch let error as DKIMTagListError {
                candidate.parsed = .failure(.tagList(error))
            } catch let error as DKIMSignatureError {
                candidate.parsed = .failure(error)
            } catch {
                candidate.parsed = .failure(.missingTag("v"))
            }
            if case .success(let signature) = candidate.parsed {
                let key = HasherKey(canonicalization: signature.bodyCanonicalization, length: signature.bodyLength)
                if let index = hasherKeys.firstIndex(of: key) {
                    candidate.hasherIndex = index
                } else {
                    hasherKeys.append(key)
                    hashers.append(DKIMBodyHasher(canonicalization: key.canonicalization, lengthLimit: key.length))
                    candidate.hasherIndex = hasherKeys.count - 1
                }
            }
            candidates.append(candidate)
        }
    }

    private mutating func updateHashers(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard !bytes.isEmpty else { return }
        for index in hashers.indices { hashers[index].update(bytes) }
    }

    // MARK: - Checking one signature

    private func result(for candidate: Candidate) -> DKIMResult {
        var result = DKIMResult(status: .permerror, signatureText: candidate.signatureText)
        let signature: DKIMSignature
        switch candidate.parsed {
        case .failure(let error):
            result.reason = .invalidSignature(error)
            return result
        case .success(let parsed):
            signature = parsed
        }
        result.domain = signature.domain
        result.selector = signature.selector
        result.identity = signature.identity
        result.algorithm = signature.algorithm
        func finish(_ status: DKIMResultStatus, _ reason: DKIMFailureReason?) -> DKIMResult {
            result.status = status
            result.reason = reason
            return result
        }
        if let expiration = signature.expiration, expiration < now { return finish(.permerror, .expired) }

        // The key (§6.1.2).
        let record: DKIMKeyRecord
        // With a cache, the record text finds the parsed record and its loaded key (nil: load it below).
        var cachedKey: DKIMPublicKey?
        switch answers[signature.keyQuery] {
        case nil, .temporaryFailure?:
            return finish(.temperror, .dnsTemporaryFailure)
        case .notFound?:
            return finish(.permerror, .noKey)
        case .record(let text)?:
            do {
                if let publicKeys {
                    (record, cachedKey) = try publicKeys.keyRecord(parsing: text)
                } else {
                    record = try DKIMKeyRecord(parsing: text)
                }
            } catch {
                return finish(.permerror, .invalidKeyRecord(error))
            }
        }
        if record.isRevoked { return finish(.permerror, .keyRevoked) }
        guard record.keyType == signature.algorithm.keyType, record.allowsSHA256, record.allowsEmail else {
            return finish(.permerror, .inappropriateKey)
        }
        if record.isStrict, let identity = signature.identity,
            identity.split(separator: "@").last.map({ $0.lowercased() }) != signature.domain.lowercased()
        {
            return finish(.permerror, .identityNotExact)
        }
        let publicKey: DKIMPublicKey
        if let cachedKey {
            publicKey = cachedKey
        } else if publicKeys != nil {
            return finish(.permerror, .inappropriateKey)  // the cache tried to load it and could not
        } else {
            do {
                publicKey = try DKIMPublicKey(keyType: record.keyType, bytes: record.publicKey)
            } catch {
                return finish(.permerror, .inappropriateKey)
            }
        }
        if publicKey.keyType == .rsa, publicKey.bits < 1024 { return finish(.permerror, .keyTooSmall(bits: publicKey.bits)) }

        // Body hash (§6.1.3), then the header signature.
        let failure: DKIMFailureReason?
        if let index = candidate.hasherIndex, let length = signature.bodyLength, canonicalLengths[index] < length {
            failure = .bodyLengthExceedsBody
        } else if let index = candidate.hasherIndex, bodyHashes[index] != signature.bodyHash {
            failure = .bodyHashMismatch
        } else if !publicKey.verify(
            signature: signature.signature, data: signedData(for: candidate, signature: signature),
            algorithm: signature.algorithm)
        {
            failure = .signatureMismatch
        } else {
            failure = nil
        }
        guard let failure else { return finish(.pass, nil) }
        // §3.6.1 t=y: a testing domain's failures must not count against the message.
        if record.isTesting { return finish(.neutral, .testing(underlying: failure.description)) }
        return finish(.fail, failure)
    }

    /// The header hash input of §3.7: the `h=` fields, then this DKIM-Signature with `b=` emptied, no CRLF.
    private func signedData(for candidate: Candidate, signature: DKIMSignature) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(1024)
        for selected in DKIMHeaderField.select(signature.signedHeaders, from: fields) {
            selected.appendCanonicalized(signature.headerCanonicalization, to: &data)
        }
        let blanked = candidate.signatureRegion.map { Self.blanking(candidate.field, valueRegion: $0) }
            ?? Self.blankingSignatureValue(of: candidate.field)
        blanked.appendCanonicalized(signature.headerCanonicalization, to: &data)
        data.removeLast(2)  // §3.7: the signature field without its final CRLF
        return data
    }

    /// The field with the bytes of `valueRegion` (a range within its value) removed.
    static func blanking(_ field: DKIMHeaderField, valueRegion: Range<Int>) -> DKIMHeaderField {
        let valueStart = field.colon + 1
        guard valueStart + valueRegion.upperBound <= field.raw.count - 2 else { return field }
        var raw = field.raw
        raw.removeSubrange((valueStart + valueRegion.lowerBound)..<(valueStart + valueRegion.upperBound))
        return DKIMHeaderField(raw: raw) ?? field
    }

    /// The field with everything between `b=` and its `;` (or the end) removed, whitespace included.
    static func blankingSignatureValue(of field: DKIMHeaderField) -> DKIMHeaderField {
        let valueStart = field.colon + 1
        let value = Array(field.raw[valueStart..<(field.raw.count - 2)])
        guard let list = try? DKIMTagList(parsing: value), let tag = list.tag("b") else { return field }
        var raw = field.raw
        raw.removeSubrange((valueStart + tag.valueRegion.lowerBound)..<(valueStart + tag.valueRegion.upperBound))
        return DKIMHeaderField(raw: raw) ?? field
    }
}
