// PostOfficeAccounts: users (Dovecot passwd-file), password hashes (libcrypt) and aliases (Postfix table).
import PostOfficeCore
