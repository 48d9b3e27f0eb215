// Exports: the Core value types (MailAddress, Limits, LogSink, clocks...) are part of the PostOffice API,
// so `import PostOffice` is enough for an embedder.
@_exported import PostOfficeCore
@_exported import struct PostOfficeTLS.TLSConfiguration
@_exported import enum PostOfficeTLS.TLSProtocolVersion
@_exported import struct PostOfficeDelivery.SendmailArguments
