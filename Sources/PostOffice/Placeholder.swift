// PostOffice: the server runtime and the public embedding API.
@_exported import PostOfficeCore
