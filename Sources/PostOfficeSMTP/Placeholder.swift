// PostOfficeSMTP: the sans-I/O RFC 5321 server engine.
import PostOfficeCore
