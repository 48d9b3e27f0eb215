// POP3CommandError: why a command line could not be parsed, each mapped to the -ERR the client receives.

/// A syntax error in a POP3 command line.
public enum POP3CommandError: Error, Hashable, Sendable {
    /// The line was empty.
    case emptyCommand
    /// Not a known keyword (or not letters at all).
    case unknownCommand
    /// A required argument is absent.
    case missingArgument
    /// More arguments than the command takes.
    case tooManyArguments
    /// Zero, negative, or not a decimal number.
    case invalidMessageNumber
    /// The TOP line count is negative or not a decimal number.
    case invalidLineCount
    /// Control characters or a malformed APOP digest.
    case invalidArgument
    /// A name or password that is not UTF-8.
    case invalidUTF8

    /// The response sent for this error.
    public var response: POP3Response {
        switch self {
        case .emptyCommand: return .emptyCommand
        case .unknownCommand: return .unknownCommand
        case .missingArgument: return .missingArgument
        case .tooManyArguments: return .tooManyArguments
        case .invalidMessageNumber: return .invalidMessageNumber
        case .invalidLineCount: return .invalidLineCount
        case .invalidArgument: return .invalidArgument
        case .invalidUTF8: return .invalidUTF8
        }
    }
}
