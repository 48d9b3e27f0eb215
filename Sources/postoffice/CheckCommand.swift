// CheckCommand: `postoffice check` — validates the config, the users and aliases files and the TLS
// certificate as the server would, and prints every effective setting in config-file form.

import PostOffice

struct CheckCommand {
    let options: CommandLineOptions

    /// Validates the config (and the users and aliases files), then prints every effective setting.
    func run() throws -> Int32 {
        let setup = Setup(options: options)
        try setup.requireDataDirectory()
        let configuration = try setup.configuration()
        _ = try PostOfficeServer(configuration: configuration)
        print("# data folder \(configuration.dataDirectory)\(Setup.workingDirectoryNote(configuration.dataDirectory)); relative paths are inside it")
        for line in ConfigurationFile.render(configuration) { print(line) }
        return 0
    }
}
