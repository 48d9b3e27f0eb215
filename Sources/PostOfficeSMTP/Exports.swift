// Exports: the SASL types in PostOfficeSMTP's API (the configured mechanisms, the credentials of
// SMTPAction.authenticate), so `import PostOfficeSMTP` is enough for a driver.
@_exported import struct PostOfficeSASL.PlainCredentials
@_exported import enum PostOfficeSASL.SASLMechanism
