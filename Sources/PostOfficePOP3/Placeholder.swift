// PostOfficePOP3: the sans-I/O RFC 1939 server engine.
import PostOfficeCore
