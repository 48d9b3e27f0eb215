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
        check("smtpd_auth_mechanisms", old.smtpAuthenticationMechanisms != new.smtpAuthenticationMechanisms)
        check("sender_login_mismatch", old.rejectsSenderLoginMismatch != new.rejectsSenderLoginMismatch)
        check("submission_messages_per_hour", old.submissionMessagesPerHour != new.submissionMessagesPerHour)
        check("submission_recipients_per_hour", old.submissionRecipientsPerHour != new.submissionRecipientsPerHour)
        check("submission_hide_client", old.hidesSubmissionClient != new.hidesSubmissionClient)
        check("relay_networks", old.relayNetworks != new.relayNetworks)
        check("relay_domains", old.relayDomains != new.relayDomains)
        check("transport_maps", old.transportMapsFile != new.transportMapsFile)
        check("relayhost", old.smarthost != new.smarthost)
        check("relayhost_credentials_file", old.relayCredentialsFile != new.relayCredentialsFile)
        check("smtp_tls_security_level", old.outboundTLSPolicy != new.outboundTLSPolicy)
        check("smtp_tls_CAfile", old.outboundTLSCAFile != new.outboundTLSCAFile)
        check("smtp_destination_port", old.smtpDestinationPort != new.smtpDestinationPort)
        check("dkim_key_directory", old.dkimKeyDirectory != new.dkimKeyDirectory)
        check("subaddress_delimiter", old.subaddressDelimiter != new.subaddressDelimiter)
        check("limits", Self.reloadableLimits(old.limits) != Self.reloadableLimits(new.limits))
        // Mail authentication: turning it off applies at once; turning it on needs the checker made at start.
        check("mail_authentication", restart: new.mailAuthentication, old.mailAuthentication != new.mailAuthentication)
        check("mail_authentication_skip_networks", old.mailAuthenticationSkipNetworks != new.mailAuthenticationSkipNetworks)
        check("authserv_id", old.authservID != new.authservID)
        check("spf_policy", old.rejectsSPFFail != new.rejectsSPFFail)
        check("dmarc_policy", old.enforcesDMARC != new.enforcesDMARC)
        check("spf_received_header", old.addsReceivedSPFHeader != new.addsReceivedSPFHeader)
        check("in_flow_delay", old.inFlowDelayMilliseconds != new.inFlowDelayMilliseconds)
        check("mail_authentication_timeout", old.mailAuthenticationTimeoutSeconds != new.mailAuthenticationTimeoutSeconds)
        check("public_suffix_list", restart: true, old.publicSuffixListPath != new.publicSuffixListPath)
        check("smtp_listen", restart: true, old.smtpListeners != new.smtpListeners)
        check("pop3_listen", restart: true, old.pop3Listeners != new.pop3Listeners)
        check("submission_listen", restart: true, old.submissionListeners != new.submissionListeners)
        check("submissions_listen", restart: true, old.smtpsListeners != new.smtpsListeners)
        check("pop3s_listen", restart: true, old.pop3sListeners != new.pop3sListeners)
        check("metrics_listen", restart: true, old.metricsListeners != new.metricsListeners)
        for listener in ["smtp", "submission", "submissions", "pop3", "pop3s"] {
            check(listener + "_proxy_protocol", restart: true,
                  old.proxyProtocolListeners.contains(listener) != new.proxyProtocolListeners.contains(listener))
        }
        check("proxy_protocol_timeout", old.proxyHeaderTimeoutSeconds != new.proxyHeaderTimeoutSeconds)
        check("lmtp_listen", restart: true, old.lmtpListeners != new.lmtpListeners)
        check("data_directory", restart: true, old.dataDirectory != new.dataDirectory)
        check("mail_root", restart: true, old.mailRoot != new.mailRoot)
        check("mail_location", restart: true, old.mailLocation != new.mailLocation)
        check("deliver_outbound", restart: true, old.deliversOutbound != new.deliversOutbound)
        // The queue manager takes its schedule at start.
        check("delay_warning_time", restart: true, old.delayWarningSeconds != new.delayWarningSeconds)
        check("maximal_queue_lifetime", restart: true, old.maximalQueueLifetimeSeconds != new.maximalQueueLifetimeSeconds)
        check("bounce_queue_lifetime", restart: true, old.bounceQueueLifetimeSeconds != new.bounceQueueLifetimeSeconds)
        check("dns_servers", restart: true, old.dnsServers != new.dnsServers)
        check("hostname", restart: true, old.hostname != new.hostname)
        check("run_as_user", restart: true, old.runAsUser != new.runAsUser)
        check("postmaster_address", restart: true, old.postmasterAddress != new.postmasterAddress)
        check("quota", restart: true, old.quota.storageBytes != new.quota.storageBytes)
        check("quota_messages", restart: true, old.quota.messageCount != new.quota.messageCount)
        check("quota_full_tempfail", restart: true, old.quotaFullIsTemporary != new.quotaFullIsTemporary)
        check("quota_warning", restart: true, old.quotaWarningPercent != new.quotaWarningPercent)
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
