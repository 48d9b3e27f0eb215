// CryptLibrary: the thin, thread-safe bridge to libcrypt (crypt_r, crypt_gensalt_rn).
// Each call gets its own heap-allocated `struct crypt_data` (32 KiB: too large for a thread's stack),
// which is wiped before it is freed because it holds password-derived state.

import CCrypt

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Calls into libcrypt.
enum CryptLibrary {
    /// crypt_r(3): hashes `password` with the algorithm and salt in `setting` (a full hash works as the
    /// setting). Returns nil on any failure, including libxcrypt's `*0`/`*1` failure tokens.
    static func hash(password: String, setting: String) -> String? {
        let size = MemoryLayout<crypt_data>.size
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: size, alignment: MemoryLayout<crypt_data>.alignment)
        // crypt(3) wants the structure zeroed before first use.
        memset(raw, 0, size)
        defer {
            memset(raw, 0, size)
            raw.deallocate()
        }
        let data = raw.bindMemory(to: crypt_data.self, capacity: 1)
        let output: String? = password.withCString { passwordPointer in
            setting.withCString { settingPointer in
                guard let result = crypt_r(passwordPointer, settingPointer, data) else { return nil }
                return String(cString: result)
            }
        }
        guard let output, !output.isEmpty, !output.hasPrefix("*") else { return nil }
        return output
    }

    /// crypt_gensalt_rn(3): a setting string for `prefix` (such as `$6$`) salted with `entropy`.
    /// `cost` 0 means the algorithm's default. Returns nil when libcrypt does not support the prefix.
    static func makeSetting(prefix: String, cost: UInt, entropy: [UInt8]) -> String? {
        var output = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let outputSize = Int32(output.count)
        let entropyChars = entropy.map { CChar(bitPattern: $0) }
        let made: Bool = prefix.withCString { prefixPointer in
            entropyChars.withUnsafeBufferPointer { entropyBuffer in
                output.withUnsafeMutableBufferPointer { outputBuffer in
                    crypt_gensalt_rn(
                        prefixPointer, cost, entropyBuffer.baseAddress, Int32(entropyBuffer.count),
                        outputBuffer.baseAddress, outputSize
                    ) != nil
                }
            }
        }
        guard made else { return nil }
        let bytes = output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let setting = String(decoding: bytes, as: UTF8.self)
        guard !setting.isEmpty, !setting.hasPrefix("*") else { return nil }
        return setting
    }
}
