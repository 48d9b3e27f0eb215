// ReloadReport: what a configuration reload changed, and which changed settings wait for a restart
// (listeners, folders, the host name, privileges), so SIGHUP or `postoffice reload` can log both.

/// The settings a reload changed, by their configuration-file names.
public struct ReloadReport: Sendable, Equatable {
    /// Changed and in force for new sessions.
    public var applied: [String] = []
    /// Changed in the file but still running with the old value until the server restarts.
    public var needsRestart: [String] = []

    init(old: PostOfficeConfiguration, new: PostOfficeConfiguration) {
        func check(_ name: String, restart: Bool = false, _ changed: Bool) {
            guard changed else { return }
            if restart { needsRestart.append(name) } else { applied.append(name) }
        }
        check("domains", old.domains != new.domains)
        check("catch_all", old.catchAll != new.catchAll)
        check("users_file", old.usersFile != new.usersFile)
        check("aliases_file", old.aliasesFile != new.aliasesFile)
        check("tls_certificate", old.tls?.certificateChainPath != new.tls?.certificateChainPath)
        check("tls_private_key", old.tls?.privateKeyPath != new.tls?.privateKeyPath)
        check("plaintext_auth_on_loopback", old.allowsPlaintextAuthenticationOnLoopback != new.allowsPlaintextAuthenticationOnLoopback)
        check("plaintext_auth_networks", old.plaintextAuthenticationNetworks != new.plaintextAuthenticationNetworks)
        check("smtpd_auth_on_smtp", old.offersAuthenticationOnSMTP != new.offersAuthenticationOnSMTP)
        check("sender_login_mismatch", old.rejectsSenderLoginMismatch != new.rejectsSenderLoginMismatch)
        check("submission_messages_per_hour", old.submissionMessagesPerHour != new.submissionMessagesPerHour)
        check("submission_recipients_per_hour", old.submissionRecipientsPerHour != new.submissionRecipientsPerHour)
        check("submission_hide_client", old.hidesSubmissionClient != new.hidesSubmissionClient)
        check("relay_networks", old.relayNetworks != new.relayNetworks)
        check("relay_domains", old.relayDomains != new.relayDomains)
        check("dkim_key_directory", old.dkimKeyDirectory != new.dkimKeyDirectory)
        check("subaddress_delimiter", old.subaddressDelimiter != new.subaddressDelimiter)
        check("limits", Self.reloadableLimits(old.limits) != Self.reloadableLimits(new.limits))
        check("smtp_listen", restart: true, old.smtpListeners != new.smtpListeners)
        check("pop3_listen", restart: true, old.pop3Listeners != new.pop3Listeners)
        check("submission_listen", restart: true, old.submissionListeners != new.submissionListeners)
        check("submissions_listen", restart: true, old.smtpsListeners != new.smtpsListeners)
        check("pop3s_listen", restart: true, old.pop3sListeners != new.pop3sListeners)
        check("data_directory", restart: true, old.dataDirectory != new.dataDirectory)
        check("mail_root", restart: true, old.mailRoot != new.mailRoot)
        check("mail_location", restart: true, old.mailLocation != new.mailLocation)
        check("hostname", restart: true, old.hostname != new.hostname)
        check("run_as_user", restart: true, old.runAsUser != new.runAsUser)
        check("postmaster_address", restart: true, old.postmasterAddress != new.postmasterAddress)
        check("subaddress_folders", restart: true, old.deliversSubaddressToFolders != new.deliversSubaddressToFolders)
        check("max_message_size", restart: true, old.limits.maximumMessageSize != new.limits.maximumMessageSize)
        check("failed_logins_per_minute", restart: true,
              old.limits.failedLoginsPerMinutePerAddress != new.limits.failedLoginsPerMinutePerAddress)
    }

    /// The limits a reload applies, with the two that need a restart set aside.
    private static func reloadableLimits(_ limits: Limits) -> Limits {
        var limits = limits
        limits.maximumMessageSize = 0
        limits.failedLoginsPerMinutePerAddress = 0
        return limits
    }
}
