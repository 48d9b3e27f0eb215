// Exports: the Core value types (MailAddress, Limits, LogSink, clocks...) and SASLMechanism (for
// smtpAuthenticationMechanisms) are part of the PostOffice API, so `import PostOffice` is enough for an
// embedder; the sendmail parsers are what the CLI needs of Delivery.
@_exported import PostOfficeCore
@_exported import struct PostOfficeTLS.TLSConfiguration
@_exported import enum PostOfficeTLS.TLSProtocolVersion
@_exported import enum PostOfficeSASL.SASLMechanism
@_exported import struct PostOfficeDelivery.SendmailArguments
@_exported import enum PostOfficeDelivery.AddressListParser
