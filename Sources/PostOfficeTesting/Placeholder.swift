// PostOfficeTesting: helpers for embedders' tests.
@_exported import PostOffice
