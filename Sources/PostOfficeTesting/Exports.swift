// Exports: a test that imports PostOfficeTesting also sees the server API it drives.
@_exported import PostOffice
