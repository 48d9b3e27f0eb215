// postoffice: the command-line shell over the PostOffice embedding API. It parses arguments, prints,
// and maps errors to exit codes; everything else is done by the library.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

/// Writes a line to standard error.
func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

var arguments = Array(CommandLine.arguments.dropFirst())
// Run through a symbolic link named `sendmail`, every argument is sendmail's (argv[0] decides, as in Postfix).
if SendmailCommand.isInvokedAsSendmail(CommandLine.arguments.first) { arguments.insert("sendmail", at: 0) }
let status: Int32
do {
    status = try Commands.run(arguments)
} catch let error as UsageError {
    printError("postoffice: \(error)")
    status = 2
} catch let error as ConfigurationError {
    printError("postoffice: \(error)")
    status = 2
} catch let error as ConfigurationProblem {
    printError("postoffice: \(error)")
    status = ConfigurationProblem.exitStatus
} catch {
    printError("postoffice: \(error)")
    status = 1
}
exit(status)
