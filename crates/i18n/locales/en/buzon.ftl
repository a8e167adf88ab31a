# Buzón message catalog: English.
#
# Keys are grouped by area (pop3-, sasl-, check-, fetch-, setup-, user-, deliver-,
# serve-, sieve-, config-, error-). Every key must also be in es/buzon.ftl with the same
# placeholders; `cargo test -p buzon-i18n` checks it. English texts are what Buzón printed
# before the catalogs existed: tests compare them byte for byte.

## POP3 server responses (the human text after +OK / -ERR and any [CODE]).

pop3-greeting = Buzon ready.
pop3-capa = Capability list follows
pop3-line-runaway = Line too long without CRLF, closing connection.
pop3-sasl-too-long = Authentication response too long.
pop3-line-too-long = Command line too long (at most 255 octets, RFC 2449).
pop3-bare-lf = Lines must end with CRLF.
pop3-too-many-bad = Too many bad commands, closing connection.
pop3-unknown-command = Unknown command.
pop3-empty-command = Empty command
pop3-bad-arguments = { $command }: { $reason }
pop3-bad-msgnum = { $command }: invalid message number
pop3-not-utf8 = { $command }: argument is not UTF-8
pop3-arg-password-missing = password missing
pop3-arg-user-missing = user name missing
pop3-arg-too-many = too many arguments
pop3-arg-bad-digest = digest must be 32 hexadecimal digits
pop3-arg-apop-usage = expected: APOP name digest
pop3-arg-bad-line-count = line count must be a non-negative number
pop3-arg-top-usage = expected: TOP msg lines
pop3-arg-control-in-user = control character in the user name
pop3-arg-bad-mechanism = invalid mechanism name
pop3-arg-no-arguments = takes no arguments
pop3-arg-msgnum-missing = message number missing
pop3-arg-bad-lang-range = invalid language range
pop3-not-allowed-now = Command not allowed now.
pop3-logout = Logging out.
pop3-logout-deleted = Logging out, { $count } messages deleted.
pop3-update-failed = Some deleted messages were not removed: { $reason }
pop3-plaintext-disallowed = Plaintext authentication disallowed on non-secure (SSL/TLS) connections; use TLS (port 995) or STLS.
pop3-apop-needs-tls = APOP is accepted only over TLS (port 995 or after STLS): a digest sent in the clear can be cracked offline.
pop3-apop-unavailable = APOP is not available on this server.
pop3-no-username = No username given.
pop3-tls-already = TLS is already active.
pop3-stls-unavailable = STLS is not available: no TLS certificate is configured.
pop3-stls-begin = Begin TLS negotiation now.
pop3-utf8-enabled = UTF8 enabled
pop3-login-first = { $command } is not allowed before login: authenticate first (USER/PASS, APOP or AUTH).
pop3-unsupported-mechanism = Unsupported authentication mechanism.
pop3-auth-failed = Authentication failed.
pop3-login-bad-user = Invalid user name in LOGIN exchange.
pop3-auth-aborted = Authentication aborted by client.
pop3-logged-in = Logged in.
pop3-no-such-message = There's no message { $msg }, only { $count } messages in maildrop.
pop3-message-deleted = Message { $msg } is deleted.
pop3-list = { $count } messages ({ $octets } octets)
pop3-retr = { $octets } octets
pop3-dele = Marked to be deleted.
pop3-rset = maildrop has { $count } messages ({ $octets } octets)
pop3-already-logged-in = Already logged in.
pop3-stls-after-login = STLS is only allowed before login (RFC 2595).
pop3-utf8-after-login = UTF8 must be issued before login (RFC 6856).
pop3-message-unavailable = Message is not available right now; try again later.
pop3-idle = Disconnected for inactivity.
pop3-shutdown = Server shutting down; no messages were deleted.
pop3-taken-over = Session taken over by a newer login; no messages were deleted.
pop3-auth-timeout = Not logged in within the time allowed; connect again and log in.
pop3-lang-list = Language listing follows:
pop3-lang-changed = Language changed
pop3-lang-unsupported = Unsupported language { $range }; LANG without argument lists the languages.
pop3-too-many-failed-logins = Too many failed logins from your address or for this user; try again later.
pop3-auth-unavailable = Authentication is temporarily unavailable; try again later.
pop3-too-many-sessions = Too many sessions for this user; close other mail clients.
pop3-login-delay = Minimum time between logins is { $delay } seconds; try again in { $wait } seconds.
pop3-mailbox-locked = Mailbox is locked by another POP3 session; close the other mail client or wait.
pop3-mailbox-unavailable = Cannot open the mailbox; the administrator has been told why.
pop3-index-problem = Mailbox index problem; try again later.
pop3-too-many-connections = Too many connections to this server; try again later.
pop3-too-many-connections-ip = Too many connections from your address; close other sessions and try again.
pop3-store-unavailable = mail store unavailable

## SASL (RFC 5034) exchange problems.

sasl-bad-base64 = Invalid base64 data
sasl-plain-shape = Invalid PLAIN message: expected authzid NUL authcid NUL password
sasl-plain-nul-password = Invalid PLAIN message: NUL in password
sasl-plain-user-not-utf8 = Invalid PLAIN message: user name is not UTF-8
sasl-plain-authzid-not-utf8 = Invalid PLAIN message: authzid is not UTF-8
sasl-plain-empty-user = Invalid PLAIN message: empty user name
sasl-scram-malformed = Invalid SCRAM message
sasl-bearer-malformed = Invalid OAUTHBEARER or XOAUTH2 message

## The retrieval client's errors (buzon fetch, check, setup). Each says the cause, then
## " — " and the fix: `buzon check` splits the two there.

client-unknown-host = cannot find the address of { $host }: { $reason } — check the host name for typos; if it is right, the DNS server may be unreachable
client-refused = cannot connect to { $addr }: connection refused — the port is wrong or the server is down; POP3 uses 995 (TLS) and 110 (STLS)
client-connect-timeout = cannot connect to { $addr }: no answer within { $secs } s — a firewall or antivirus is probably blocking the port; try the other of 995 (TLS) and 110 (STLS)
client-connect = cannot connect to { $addr }: { $reason }
client-no-greeting = { $addr } accepted the connection but sent no greeting within { $secs } s — { $hint }
client-hint-expects-tls = the port probably expects TLS from the first byte: use security = "tls" (port 995)
client-hint-is-pop3s = this port expects TLS from the first byte (POP3S): use security = "tls"
client-hint-not-pop3 = the server may be overloaded, or this is not a POP3 port
client-not-pop3 = { $addr } does not speak POP3: { $got } — check the port (POP3 uses 995 for TLS and 110 for STLS)
client-tls = TLS with { $host } failed: { $detail } — { $fix }
client-stls-not-offered = { $host } does not offer STLS, so the password would travel unencrypted — use security = "tls" on port 995, or ask the provider to enable TLS (no silent downgrade)
client-plaintext-not-allowed = refusing to log in as { $user } to { $host } over an unencrypted connection: the password (or, with APOP and SCRAM, a value it can be guessed from offline) would travel readable by anyone on the way — use security = "tls" or "starttls"; set allow_plaintext = true only for a trusted local network
client-plaintext-refused = { $host } refuses plaintext logins on an unencrypted connection ({ $text }) — use security = "tls" (port 995) or "starttls" (port 110)
client-auth = { $host } rejected the login for { $user }: { $text } — check the password{ $hint }
client-auth-hint-full-address = {" "}and the user name: many providers want the full e-mail address as the user name
client-auth-hint-local-part = {" "}and the user name: some providers want only the part before @ (user = "{ $local }")
client-auth-hint-local-works = {" "}— the server accepts this password with the user name "{ $local }" (without @domain): set user = "{ $local }"
client-auth-hint-local-rejected = {" "}and the user name ("{ $local }" without the domain was rejected too, so the password is the likely problem)
client-auth-unsupported = { $host } does not support the { $mechanism } login method — use auth = "auto" to let Buzón pick one the server offers
client-in-use = { $host } says the mailbox is in use by another session ([IN-USE] { $text }) — another mail program is probably fetching right now; Buzón will not retry in a loop, run it again later
client-login-delay = { $host } asks to wait before logging in again ([LOGIN-DELAY] { $text }){ $policy } — fetch less often (see --every)
client-sys-temp = { $host } has a temporary problem ([SYS/TEMP] { $text }) — try again later
client-server = { $host } answered { $command } with an error: { $text }
client-protocol = { $host } sent a reply Buzón cannot use after { $command }: { $detail }
client-closed = { $host } closed the connection { $during }
client-read-timeout = { $host } did not answer { $command } within { $secs } s — the connection may have stalled; run again
client-keep-needs-uidl = { $host } does not support UIDL, so Buzón cannot tell new messages from ones already downloaded — `keep` and `delete_after_days` need UIDL; use the default policy (delete after download) for this server
client-delivery = cannot store a message in { $path }: { $reason }
client-mda = the delivery program { $program } failed: { $reason }
client-ledger = the download ledger { $path } is unusable: { $reason }

## TLS problems (detail, then fix).

tls-timeout = no TLS answer within { $secs } s
tls-timeout-fix = the port probably speaks plain POP3: use security = "starttls" (port 110) or check the port
tls-pin-fix = if you trust this server, pin its certificate: fingerprint = "{ $fingerprint }" in the account (or --fingerprint), or give its CA with ca_file
tls-ca-fix = give the server's CA certificate with ca_file, or pin the certificate's fingerprint
tls-expired = the server's certificate has expired
tls-expired-fix = the server's administrator must renew it; check also that this computer's clock is right
tls-not-yet-valid = the server's certificate is not valid yet
tls-not-yet-valid-fix = check that this computer's clock and date are right
tls-wrong-name = the server's certificate is for another name, not { $host }
tls-wrong-name-fix = use the host name the certificate was issued for (the provider's documented server name)
tls-wrong-name-for = the server's certificate is for { $names }, not { $host }
tls-wrong-name-for-fix = use the host name the certificate was issued for ({ $name })
tls-unknown-issuer = the server's certificate is self-signed or signed by an unknown authority
tls-pin-mismatch = the server's certificate does not match the pinned fingerprint
tls-pin-mismatch-fix = if the server's certificate was replaced on purpose, pin the new fingerprint; otherwise someone may be intercepting the connection
tls-not-acceptable = the server's certificate is not acceptable: { $words }
tls-not-tls = the server did not answer with TLS (its first bytes are not a TLS record)
tls-not-tls-fix = this port speaks plain POP3: use security = "starttls" (port 110), or port 995 for TLS
tls-incompatible-fix = the server's TLS setup is not compatible (TLS 1.2 or newer is required)
tls-handshake-failed = the connection failed during the handshake: { $reason }
tls-handshake-failed-fix = the port may not speak TLS: for port 110 use security = "starttls"

## buzon check: the step names (the JSON keeps the English ones) and what each found.

check-step-DNS = DNS
check-step-TCP = TCP
check-step-TLS = TLS
check-step-greeting = greeting
check-step-CAPA = CAPA
check-step-STLS = STLS
check-step-login = login
check-step-STAT = STAT
check-fix = fix:
check-connected = connected to { $addr }
check-tls-accepted = { $version }, certificate accepted for { $host } ({ $fingerprint })
check-no-capa = the server does not list its capabilities (CAPA); that is allowed
check-stls-upgraded = upgraded to TLS, certificate accepted for { $host } ({ $fingerprint })
check-stls-not-needed = not needed: TLS from the first byte
check-stls-not-used = not used: security = "none"
check-login-skipped = skipped: no password given
check-logged-in = logged in as { $user } ({ $mechanism })
check-stat = { $count ->
        [one] { $count } message waiting, { $size }
       *[other] { $count } messages waiting, { $size }
    }

## buzon fetch.

fetch-none-new = no new messages
fetch-new = { $count ->
        [one] 1 new message, { $size }
       *[other] { $count } new messages, { $size }
    }
fetch-deleted = { $count } deleted on server
fetch-too-big = { $count } too big, left on server
fetch-headers-only = { $count } stored as header only
fetch-deferred = { $count } deferred by the delivery program
fetch-recovered = { $count } recovered from an interrupted run
fetch-left-by-limit = { $count } left for the next run (limit)
fetch-progress = { $account }: { $done }/{ $total } messages
fetch-note = note: { $text }
fetch-before-error = { $account }: { $summary } before the error
fetch-on-server = { $account }: { $count ->
        [one] { $count } message on the server
       *[other] { $count } messages on the server
    }
fetch-on-server-dry-run = { $account }: { $count ->
        [one] { $count } message on the server (dry run, nothing changed)
       *[other] { $count } messages on the server (dry run, nothing changed)
    }
fetch-no-password = account { $account }: no password — set password_command or password_env in the accounts file, or run on a terminal to be asked
fetch-bad-every = --every { $value }: give a duration of at least 10s, like 5m
cli-no-runtime = cannot start the runtime: { $reason }

## buzon user.

user-cannot-create = cannot create { $path }: { $reason }
user-added = added user { $name } to { $file }
user-password-changed = changed the password of { $name }
user-removed = removed user { $name }; the mailbox in { $maildir } was kept
user-prompt-password = Password:{" "}
user-prompt-again = Again:{" "}
user-cannot-read-password = cannot read the password: { $reason }
user-cannot-read-stdin = cannot read the password from stdin: { $reason }
user-passwords-differ = the two passwords differ; nothing was changed
user-empty-password = empty password; nothing was changed

## Configuration files (buzon.toml): the framing of every error. What is wrong and the
## fix of each key's check are English for now (see docs/i18n.md).

config-line = {" "}line { $line }
config-cannot-read = cannot read config file { $path }: { $reason } — check the path and its permissions

## buzon setup.

setup-ask-password-needs-terminal = --ask-password needs a terminal; use --password-env or --password-command
setup-password-prompt = Password for { $address } (only to test the login; not stored):{" "}
setup-cannot-read-password = cannot read the password: { $reason }
setup-nothing-found = no working POP3 server found for { $domain } — ask the provider for the POP3 server name and port, then add the account by hand (docs/client.md)
setup-needs-confirmation = { $host } (from { $source }) answers as a POP3 server, but it is outside { $domain }: the { $source } answer could have been forged, so your password was not sent to it. If { $host } is really your provider's server, run again with --yes { $host }:
setup-outside-domain = { $host } is outside { $domain }: the { $source } answer could have been forged — make sure this is really your provider's server
setup-same-options = (the same options)
setup-warning = warning: { $text }
setup-cannot-create = cannot create { $path }: { $reason }
setup-cannot-write = cannot write { $path }: { $reason }
setup-written-unparsable = the account was written but the file does not parse: { $reason }
setup-written-invalid = the account was written but does not validate: { $reason }
setup-added = added account { $name } ({ $host }:{ $port } { $security }, user { $user }) to { $path }
setup-password-each-run = the password will be asked for on each run; set password_command or password_env in the file to avoid that
setup-next = next: buzon check { $name } ; buzon fetch { $name }
setup-ask-outside = { $host } (found by { $source }) is outside { $domain }. DNS answers and autoconfig files can be forged;
setup-ask-outside-question = send your password to { $host } to test the login? [y/N]{" "}

## buzon serve: start-up lines and errors (the log stays English).

serve-listening = { $what } listening on { $addr }
serve-what-pop3 = POP3 (STLS)
serve-what-pop3s = POP3S (implicit TLS)
serve-what-lmtp = LMTP
serve-what-smtp = SMTP (STARTTLS)
serve-what-https = HTTPS (mail client autoconfiguration)
serve-what-http = HTTP (autoconfiguration, redirects to HTTPS)
serve-what-metrics = Prometheus metrics (/metrics)
serve-certificate = TLS certificate SHA-256 { $fingerprint }
serve-first-user = first start — created user "demo" with password { $password }
serve-first-once = (shown only this once; change it with `buzon user passwd demo --data-dir { $dir }`)
serve-first-try = try it: curl -k pop3s://demo:{ $password }@{ $addr }/1
serve-no-runtime = cannot start the async runtime: { $reason }
serve-no-signal = cannot watch { $signal }: { $reason }

## buzon sieve check.

sieve-cannot-read = cannot read { $path }: { $reason } — check the path and its permissions
sieve-not-utf8 = { $path }: byte { $byte } is not UTF-8 — Sieve scripts are UTF-8 text (RFC 5228 §2.2); save the file as UTF-8
sieve-valid = { $path } is valid

## buzon deliver (read by the admin in the MTA's log; exit codes per sysexits.h).

deliver-will-retry = { $reason } (the MTA will retry)
deliver-bad-to = --to { $to } is not a user name or address — give e.g. --to alice or --to alice@example.com
deliver-from-control = --from contains control characters
deliver-no-outcome = no delivery outcome (the MTA will retry)
deliver-cannot-spool = cannot read and spool the message: { $reason } (the MTA will retry)
deliver-too-large = the message is larger than max_message_size ({ $max } bytes)

## Why a server name could not be resolved.

dns-no-such-name = failed to lookup address information: Name or service not known
dns-timeout = the DNS lookup timed out
dns-no-addresses = the name has no addresses

## buzon migrate.

migrate-same-config = --from and --to name the same configuration: give the configuration of the destination store to --to
migrate-destination-not-empty = the destination ({ $to }) already holds { $users } users and { $messages } messages — to continue an interrupted migration into it, run the same command with --resume (users already there and messages already there by UIDL are skipped)
migrate-start = migrating from { $from } to { $to }
migrate-user-added = { $user }: user added
migrate-unreadable = { $user }: message { $uidl } could not be read, not copied: { $reason }
migrate-mailbox = { $user }: { $folders } folders, { $messages } messages ({ $bytes } bytes): { $copied } copied, { $skipped } already there; checksum source { $source }, destination { $dest } ({ $dest_messages } messages, { $dest_bytes } bytes): { $verdict }
migrate-same = same
migrate-different = DIFFERENT
migrate-total = { $mailboxes } mailboxes, { $messages } messages, { $bytes } bytes: { $copied } copied, { $skipped } already there, { $unreadable } unreadable; { $seconds } s
migrate-mismatch = the destination differs from the source for { $users } — it holds messages the source does not (an earlier migration into it?) or lost some; compare with `buzon migrate` output above
migrate-unreadable-total = { $count } messages could not be read and were not copied (named above); run again with --resume once they can be read
setup-account-exists = { $file } already has an account "{ $name }" — choose another with --name, or edit the file
fetch-cannot-read-password = cannot read the password: { $reason }

## Configuration errors: what is wrong with a key (problem) and how to fix it.

config-auth-argon2-memory-kib-problem = with the iteration and parallelism settings is not a valid Argon2 parameter set
config-auth-argon2-memory-kib-fix = use at least 8 KiB per lane and 1 iteration; the default is 19456 KiB, 2 iterations, 1 lane
config-auth-verify-concurrency-problem = is 0
config-auth-verify-concurrency-fix = allow at least 1 concurrent password verification
config-auth-password-scheme-problem = is { $value }, which is not a scheme for new passwords
config-auth-password-scheme-fix = write "ARGON2ID" (the default) or "SCRAM-SHA-256" (also allows SCRAM-SHA-256 logins)
config-oauth-url-problem = { $url } is not an https:// URL
config-oauth-url-fix = write the issuer's https:// address; tokens checked over plain HTTP could be forged by anyone on the path
config-oauth-issuer-problem = is missing
config-oauth-issuer-fix = set issuer to the https:// address your tokens carry in their iss claim, e.g. issuer = "https://login.example.com"
config-oauth-audience-problem = is missing or empty
config-oauth-audience-fix = list the audiences tokens for this server carry in their aud claim, e.g. audience = ["buzon"]; a token for another service must not open a mailbox
config-oauth-secret-problem = cannot read { $path }: { $reason }
config-oauth-secret-fix = put the introspection client's secret alone in that file (mode 0600)
config-oauth-introspection-problem = introspection_url, client_id and client_secret_file go together
config-oauth-introspection-fix = set all three to check tokens by introspection (RFC 7662), or none to check them as JWTs with the issuer's keys
oauth-ca-unreadable = cannot read the CA certificates of [oauth] ca_file { $path }: { $reason } — point ca_file at the PEM file of the issuer's certificate authority
config-delivery-local-domains-problem = is empty, so no mail could be accepted
config-delivery-local-domains-fix = list the domains this server receives mail for, e.g. ["example.com"]
config-delivery-local-domains-2-problem = has { $bad }, which is not a domain name
config-delivery-local-domains-2-fix = write domain names such as "example.com"
config-delivery-recipient-delimiter-problem = is { $s }
config-delivery-recipient-delimiter-fix = use one punctuation character such as "+" or "-" (RFC 5233), or "" to turn sub-addressing off
config-delivery-catch-all-domain-problem = names { $domain }, which is not in local_domains
config-delivery-catch-all-domain-fix = add the domain to `local_domains` or remove its catch-all
config-delivery-catch-all-user-problem = names { $user }, which is not a user name
config-delivery-catch-all-user-fix = give the name of a user in the users file
config-delivery-over-quota-reply-problem = is { $other }
config-delivery-over-quota-reply-fix = use "452" (temporary: the sender retries, the default) or "552" (permanent: the sender bounces the message)
config-delivery-max-message-size-problem = is { $max_message_size } bytes
config-delivery-max-message-size-fix = allow at least 64K (RFC 5321 §4.5.3.1.7); the default is 50M
config-delivery-max-recipients-problem = is { $max_recipients }
config-delivery-max-recipients-fix = RFC 5321 §4.5.3.1.8 requires accepting at least 100 recipients
config-limits-auth-timeout-problem = is { $v1 }
config-limits-auth-timeout-fix = use at least "1s"; the default is "2m"
config-limits-ipv6-prefix-problem = is { $v1 }
config-limits-ipv6-prefix-fix = use a prefix length from 1 to 128: 64 (the default) counts one /64, 128 each address
config-limits-idle-timeout-problem = is { $v1 }, shorter than the 10 minutes RFC 1939 §3 requires
config-limits-idle-timeout-fix = use "10m" or more
config-limits-zero-problem = is 0, so nobody could connect
config-limits-zero-fix = use a positive number
config-mode-problem = is set on a TCP listener
config-mode-fix = `mode` applies to UNIX sockets (`address = "unix:/path"`) only; remove it
config-address-problem = is not an address with a port: { $v1 }
config-address-fix = write "IP:PORT", e.g. "0.0.0.0:995" or "[::]:110"
config-address-2-problem = { $v1 } is a UNIX socket for { $v2 }
config-address-2-fix = UNIX sockets are for LMTP only; give POP3 and SMTP listeners an IP:PORT
config-address-3-problem = { $v1 } is not an absolute path
config-address-3-fix = write "unix:/run/buzon/lmtp"
config-mode-2-problem = is not an octal permission: { $m }
config-mode-2-fix = write e.g. "0660" (owner and group may connect)
config-log-format-problem = is { $other }
config-log-format-fix = use "text" (the default) or "json" (one JSON object per line, for log collectors)
config-pop3-expire-problem = is { $e }
config-pop3-expire-fix = use "NEVER" or a number of days (RFC 2449 §6.7)
config-pop3-language-problem = is { $tag }
config-pop3-language-fix = use "en" (English) or "es" (Spanish); clients can still choose with LANG (RFC 6856)
config-pop3-serve-folders-fix = name Maildir++ folders as mail clients show them, e.g. "Junk" or "Lists.rust"
config-pop3-dovecot-uidl-format-problem = { $text }: { $why }
config-pop3-dovecot-uidl-format-fix = copy Dovecot's pop3_uidl_format (`doveconf pop3_uidl_format`; Dovecot's default is "{ $v1 }")
config-pop3-dovecot-uidl-format-2-problem = is set, but uidl_source is "buzon" (or not set) and would ignore it
config-pop3-dovecot-uidl-format-2-fix = add uidl_source = "dovecot" (or "auto") to [pop3], or remove the key
config-pop3-dovecot-uidl-format-3-problem = is set, but uidl_source is "courier", which serves Courier's UIDLs and ignores it
config-pop3-dovecot-uidl-format-3-fix = remove the key, or use uidl_source = "auto" for Maildirs from both servers
config-pop3-uidl-source-problem = is { $other }
config-pop3-uidl-source-fix = use "buzon" (the default), "dovecot" (serve the UIDLs Dovecot served, from dovecot-uidlist), "courier" (Courier's, from courierpop3dsizelist) or "auto" (whichever of the two files a Maildir has)
config-hostname-problem = is not a host name: { $hostname }
config-hostname-fix = use the server's DNS name, e.g. "mail.example.com"
config-server-group-problem = is set but `server.user` is not
config-server-group-fix = set `user` too (the group alone cannot be switched to safely), or remove `group`
config-server-user-problem = is not a user name: { $user }
config-server-user-fix = use a system account name such as "buzon" (ASCII letters, digits, _ - .) or a numeric user id
config-server-user-2-problem = is { $user }, the superuser
config-server-user-2-fix = create an unprivileged account (`useradd --system --no-create-home --shell /usr/sbin/nologin buzon`) and name it here
config-server-group-2-problem = is not a group name: { $g }
config-server-group-2-fix = use a group name such as "buzon" or a numeric group id
config-server-group-3-problem = is { $g }, the superuser's group
config-server-group-3-fix = use the server account's own group, e.g. "buzon"
config-smtp-hostname-problem = is not a host name: { $name }
config-smtp-hostname-fix = use the server's DNS name, e.g. "mx.example.com"
config-smtp-max-connections-per-ip-problem = is 0, so nobody could connect
config-smtp-max-connections-per-ip-fix = use a positive number
config-smtp-timeout-problem = is { $v }
config-smtp-timeout-fix = use at least "1s"; RFC 5321 §4.5.3.2.7 recommends 5 minutes (the default)
config-store-kind-problem = is { $other }
config-store-kind-fix = use "maildir" (local Maildirs, the default) or "postgres" (a database shared by several nodes)
config-store-maildir-key-problem = is set, but the store is Maildir (`kind` is "maildir" or not set) and would ignore it
config-store-maildir-key-fix = add kind = "postgres" to [store] to use a PostgreSQL database, or remove the key
config-store-kind-2-problem = is "postgres" but `url` is not set
config-store-kind-2-fix = add url = "postgresql://buzon@db.example:5432/buzon?sslmode=require" to [store]
config-store-url-problem = is { $v1 }, not a PostgreSQL URL
config-store-url-fix = write postgresql://user@host:port/database (the password goes in password_file or password_env)
config-store-password-env-problem = is set together with `password_file`
config-store-password-env-fix = keep one of the two: the password comes from a file or from an environment variable
config-store-password-file-problem = names { $v1 }, which cannot be read: { $e }
config-store-password-file-fix = create the file with the database password on one line, readable by the account buzon runs as
config-store-password-file-2-problem = names { $v1 }, which is empty
config-store-password-file-2-fix = write the database password on the file's first line
config-store-password-env-2-problem = names the environment variable { $var }, which is empty
config-store-password-env-2-fix = set { $var } to the database password in the environment buzon starts in
config-store-password-env-3-problem = names the environment variable { $var }, which is not set
config-store-password-env-3-fix = set { $var } to the database password in the environment buzon starts in, or use password_file
config-store-pool-size-problem = is { $n }
config-store-pool-size-fix = use 1 to { $MAX_POOL } connections (the default is 16); nodes × pool_size must stay below the database's max_connections
config-store-lock-lease-problem = is { $v1 }
config-store-lock-lease-fix = use 5s to 1h (the default is 60s): shorter leases are lost between renewals, longer ones keep a dead node's mailboxes locked
config-store-connect-timeout-problem = is { $v1 }
config-store-connect-timeout-fix = use 1s to 5m (the default is 5s)
config-tls-certificate-problem = is set but `tls.key` is not
config-tls-certificate-fix = set both, or neither to use a generated self-signed certificate
config-tls-key-problem = is set but `tls.certificate` is not
config-tls-key-fix = set both, or neither to use a generated self-signed certificate
config-tls-min-version-problem = is { $other }
config-tls-min-version-fix = use "1.2" (default) or "1.3"; older versions are not supported
config-not-duration-problem = is not a duration: { $value }
config-not-duration-fix = write a number with a unit, e.g. "30s", "10m", "2h"
config-not-size-problem = is not a size: { $value }
config-not-size-fix = write a number of bytes or a number with a unit, e.g. "50M" or "1G"
config-bad-network-problem = has an invalid network { $value }
config-bad-network-fix = use an address or CIDR network, e.g. "10.0.0.0/8" or "2001:db8::/32"
config-unknown-key = unknown key `{ $key }`: check its spelling and section (docs/buzon.sample.toml lists every key)
config-unknown-key-expected = unknown key `{ $key }`; this section takes { $expected }

## The accounts file of buzon fetch.

accounts-host-missing = missing — the POP3 server's name, e.g. host = "pop.example.com"
accounts-user-missing = missing — usually your e-mail address
accounts-port-range = must be 1–65535
accounts-bad-fingerprint = { $value } is not a SHA-256 fingerprint (sha256: and 64 hex digits)
accounts-security-none-with-tls = is "none" but TLS settings (fingerprint, ca_file) are given — use "tls" or "starttls"
accounts-bad-timeout = { $value } is not a duration like "60s" or "2m"
accounts-bad-connect-timeout = { $value } is not a duration like "20s"
accounts-mda-empty = is empty — give the program and its arguments, e.g. ["procmail", "-d", "me"]
accounts-no-destination = no destination — set one of maildir, mbox or mda
accounts-many-destinations = more than one destination — set exactly one of maildir, mbox or mda
accounts-days-without-keep = implies keeping messages for a while, but keep = false
accounts-days-zero = must be at least 1 (use keep = false to delete at once)
accounts-bad-size = { $value } is not a size like "20M" (powers of 1024)
accounts-two-passwords = and password_env are both set — choose one
accounts-password-command-empty = is empty
accounts-password-env-unset = account { $account }: password_env names { $var }, which is not set — export it or use password_command
accounts-password-command-is-empty = account { $account }: password_command is empty
accounts-password-command-cannot-run = account { $account }: cannot run password_command { $program }: { $reason }
accounts-password-command-failed = account { $account }: password_command { $program } failed ({ $status })
accounts-none = no account { $name }: the accounts file has none — run `buzon setup ADDRESS` to add one
accounts-unknown = no account { $name } — known accounts: { $known }
accounts-syntax-line = line { $line }: { $message }

## buzon setup: discovery steps and probe results.

discover-not-address = { $address } is not an e-mail address like me@example.com
discover-looking-up-srv = looking up SRV { $name }
discover-srv-not-offered = { $name }: the domain says this service is not offered
discover-autoconfig-no-pop3 = { $url }: lists no POP3 server
discover-fetching = fetching { $url }
discover-looking-up-mx = looking up MX { $domain }
discover-mx-parent = mail for { $domain } goes to { $mx }; trying servers of { $parent }
discover-probing = probing { $host }:{ $port } ({ $security })
discover-no-capa = no CAPA
discover-answers = POP3 server answers ({ $caps })
discover-outside-domain = POP3 server answers ({ $caps }); not logged in: { $host } is outside { $domain }, and your password is only sent there once you confirm it is your provider's server
discover-reconnect-failed = POP3 server answers, but reconnecting failed: { $reason }
discover-logged-in = logged in as { $user } ({ $method }; { $caps })
discover-no-user-form = POP3 server answers, but no user-name form logged in: { $reason }

## Trust settings of the retrieval client.

tls-ca-unreadable = cannot read the CA file { $path }: { $reason } — check the ca_file setting
tls-ca-not-pem = { $path } is not a PEM certificate file: { $reason }
tls-ca-unusable = { $path }: unusable certificate: { $reason }
tls-ca-empty = { $path } holds no PEM certificate (-----BEGIN CERTIFICATE-----) — check the ca_file setting
tls-no-roots = no trusted certificate authorities: the system has none installed (install ca-certificates) and no ca_file is set
tls-bad-server-name = { $name } is not a valid host name for TLS — set tls_server_name

## Errors of the users file, the mail store and delivery, and the file operations they name.

auth-unknown-scheme = unknown password scheme { $scheme } — supported: ARGON2ID, ARGON2I, SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, SCRAM-SHA-256, PLAIN, CLEARTEXT; reset the password with `buzon user passwd`
auth-bad-hash = malformed password hash: { $detail } — reset the password with `buzon user passwd`
auth-parse = line { $line } of { $path }: { $message }
io-cannot = cannot { $action } { $path }: { $reason }
auth-link = { $path } is a symbolic link, which is not followed: whoever can change its folder could point it at another file (/etc/shadow, say) for this program to open or rewrite — { $fix }
auth-user-exists = user { $user } already exists — use `buzon user passwd` to change the password
auth-no-such-user = no such user { $user } — list users with `buzon user list`
auth-bad-username = user name { $name } is not allowed: { $reason }
auth-bad-network = invalid network { $input }: { $reason } — write an address (10.0.0.1) or a CIDR block (10.0.0.0/8, fd00::/8)
auth-bad-params = invalid password hashing parameters: { $detail }
store-in-use = mailbox is in use by another POP3 session; close the other mail client or wait for it to finish
store-no-space = cannot { $action } { $path }: no space left (disk full or quota exceeded): { $reason }
store-unavailable = the mail store is temporarily unavailable: { $reason }
store-not-found = mailbox or message not found
store-too-big = message exceeds the size limit of { $limit } bytes
store-partial-expunge = expunge incomplete: { $deleted } message(s) deleted, { $failed } could not be deleted
intake-users-file = cannot load the users file: { $reason }
intake-aliases-file = cannot read the aliases file { $path }: { $reason } — check `delivery.aliases_file` and its permissions
io-action-create-temporary-file = create temporary file
io-action-fsync-directory = fsync directory
io-action-fsync = fsync
io-action-lock = lock
io-action-open-lock-file = open lock file
io-action-open = open
io-action-read-the-attributes-of = read the attributes of
io-action-read = read
io-action-rename-into-place = rename into place
io-action-resolve = resolve
io-action-set-mode-of = set mode of
io-action-stat = stat
io-action-write = write
io-action-create-directory = create directory
io-action-create = create
io-action-delete = delete
io-action-inspect = inspect
io-action-list = list
io-action-move-into-new = move into new/
io-action-remove = remove
io-action-set-the-delivery-time-of = set the delivery time of
accounts-field = account { $account }: { $key }: { $what }

## App passwords and two-step verification (buzon user app-password, buzon user 2fa).
pop3-two-step-required = This account uses two-step verification: log in with an app password, not the main password (the administrator creates one with: buzon user app-password add { $user } NAME).
app-password-name-empty = the app password needs a name, such as "laptop — Thunderbird"
app-password-name-bad = the name of an app password has at most { $max } characters and no control characters
app-password-name-taken = there is already an app password named { $name } — choose another name, or revoke that one first
app-password-too-many = this user has { $max } app passwords, the most there can be — revoke unused ones with `buzon user app-password revoke`
app-password-added = app password { $name } for { $user } (scope: { $scope }):
app-password-added-note = Type it into the mail program instead of the main password (with or without the dashes). It is shown only now and stored only as a hash; if it is lost, revoke it and make another.
app-password-added-no-two-step = Two-step verification is off for { $user }: the main password works too. Turn it on with `buzon user 2fa enable { $user }`.
app-password-none = { $user } has no app passwords
app-password-list-header = NAME	ID	SCOPE	CREATED	LAST USED	FROM
app-password-never-used = never
app-password-revoked = revoked app password { $name } ({ $id }) of { $user }; logins with it fail from now on
app-password-not-found = { $user } has no app password named { $name } — see them with `buzon user app-password list { $user }`
two-step-already-on = two-step verification is already on for { $user } — to set up a new phone, run `buzon user 2fa disable { $user }` and then enable it again
two-step-scan = Scan this code with an authenticator app (Aegis, Google Authenticator, FreeOTP…) on { $user }'s phone, or type the URI or the secret into it:
two-step-secret = Secret: { $secret }
two-step-prompt-code = Code shown by the app:{" "}
two-step-code-wrong = that code is not the app's current code — check that the phone's clock is right and type the code shown now
two-step-cannot-read-code = cannot read the code: { $reason }
two-step-not-confirmed = no valid code was given, so two-step verification stays off for { $user } — run the command again and type the 6-digit code the app shows
two-step-enabled = Two-step verification is on for { $user }. POP3 now takes app passwords only (`buzon user app-password add { $user } NAME`). Recovery codes, each usable once if the phone is lost:
two-step-recovery-note = Keep them somewhere safe: they are shown only now.
two-step-disabled = two-step verification is off for { $user }: the main password works in POP3 again; app passwords stay until revoked
two-step-status-off = two-step verification is off for { $user }; { $apps } app passwords
two-step-status-on = two-step verification is on for { $user } since { $since }; { $recovery } recovery codes left; { $apps } app passwords
two-step-status-apps-only = two-step verification is on for { $user } without an authenticator app (the users file sets two_step): POP3 takes app passwords only; { $apps } app passwords
credentials-link-fix = remove the link; `buzon user` creates { $path } again as a real file or folder
credentials-not-a-file = { $path } is not a credentials file (not a plain file, or larger than 1 MiB) — move it away
credentials-damaged = { $path } cannot be read: { $reason } — restore it from a backup, or remove it (the user's app passwords and two-step setup are then lost)
credentials-damaged-row = the credentials of { $user } in the database cannot be read: { $reason } — restore the row from a backup, or delete it (the user's app passwords and two-step setup are then lost)

## OAuth 2.0 in the retrieval client (buzon fetch --authorize, check).
client-token-refused = { $host } refused the OAuth token for { $user } ({ $status }) — the token expired or was revoked: sign in again with `buzon fetch --authorize`, or check that the account's OAuth client may read mail over POP3
client-oauth = { $account }: { $detail } — { $fix }
oauth-token-file-bad = cannot read the OAuth tokens in { $path }: { $reason }
oauth-token-file-unwritable = cannot store the OAuth tokens in { $path }: { $reason }
oauth-unreachable = the OAuth provider at { $url } could not be reached ({ $reason })
oauth-unreachable-fix = check the network and the provider's address (oauth_token_url, oauth_device_url), then try again
oauth-not-json = the OAuth provider at { $url } answered HTTP { $status } with something that is not a token
oauth-not-signed-in = not signed in with OAuth yet
oauth-authorize-fix = run `buzon fetch --authorize { $account }`, open the address it shows on any device and type the code
oauth-expired-no-refresh = the OAuth access token expired and the provider gave no refresh token to renew it
oauth-refresh-refused = the OAuth provider refused to renew the access token ({ $error } { $description }): the sign-in expired or access was revoked
oauth-no-token = the OAuth provider answered HTTP { $status } without an access token
oauth-device-refused = the OAuth provider at { $url } refused to start a sign-in ({ $reason })
oauth-device-refused-fix = check oauth_client_id (and oauth_client_secret), and that the OAuth client allows the device flow and the scope
oauth-device-expired = the sign-in code expired before it was approved
oauth-device-denied = the sign-in was refused on the provider's page
accounts-oauth-client-id = oauth_client_id is missing: OAuth needs the id of the OAuth client you registered with the provider
accounts-oauth-endpoints = set oauth_provider ("gmail" or "microsoft"), or both oauth_device_url and oauth_token_url
accounts-oauth-https = { $url } is not an https:// address; tokens must not travel unencrypted
accounts-oauth-needs-source = an OAuth login needs a token: set oauth_provider and oauth_client_id (then run `buzon fetch --authorize`), or password_command for a program that prints the token
oauth-authorize-not-oauth = { $account } does not use OAuth: set auth = "oauthbearer" or "xoauth2" with oauth_provider and oauth_client_id
oauth-authorize-open = { $account }: on any device, open { $url } and type the code { $code }
oauth-authorize-direct = (or open { $url }, which has the code in it)
oauth-authorize-done = { $account }: signed in; the tokens are in { $file } and are renewed when they expire
setup-oauth-offer = { $host } takes POP3 logins only with OAuth 2.0 or an app password: to use OAuth, register an OAuth client with the provider and run setup again with --oauth-client-id ID (and --oauth-client-secret where the provider gives one); or create an app password in the account's security settings and use it as the password
setup-oauth-unknown = --oauth-client-id was given, but Buzón knows no OAuth endpoints for { $host }: set oauth_device_url, oauth_token_url and oauth_scope in the account (docs/client.md)
setup-oauth-next = Sign in once with: buzon fetch --authorize { $name } (open the address it shows on any device and type the code); then buzon fetch { $name }

## Sieve compile errors (buzon sieve check, and delivery's log). Sieve keywords and
## script fragments stay as written.
sieve-pos = line { $line }:{ $column }
sieve-tok-number = the number { $number }
sieve-tok-string = a string
sieve-tok-eof = the end of the script
sieve-colon-needs-tag = `:` must be followed by a tag name, as in `:is` or `:contains`
sieve-unexpected-char = unexpected character { $character }: Sieve has no such token
sieve-unterminated-comment = unterminated comment: this `/*` has no matching `*/`
sieve-unterminated-string = unterminated string: this `"` has no closing `"`
sieve-unterminated-text = unterminated multi-line string: end it with a line holding only `.`
sieve-invalid-number = invalid number `{ $number }`: a number is digits optionally followed by K, M or G (as in 100K)
sieve-number-too-large = number too large: the largest number Buzón accepts is { $max }
sieve-text-needs-line-break = `text:` must be followed by a line break (a `#` comment may come first); the string starts on the next line
sieve-unmatched-brace = `{ "}" }` without a matching `{ "{" }`
sieve-expected-command-found = expected a command, found { $found }
sieve-expected-command = expected a command
sieve-nested-too-deeply = nested too deeply: Buzón accepts at most { $max } levels of blocks and tests; split the conditions up
sieve-block-never-closed = this `{ "{" }` is never closed: add the matching `{ "}" }`
sieve-expected-semicolon = expected `;` or a block after `{ $name }`, found { $found }
sieve-semicolon-missing = : is a `;` missing?
sieve-empty-string-list = empty string list: `[` `]` must hold at least one string
sieve-expected-string-in-list = expected a string in this list, found { $found }
sieve-expected-comma-bracket = expected `,` or `]` in the string list opened at { $open }, found { $found }
sieve-expected-test-found = expected a test, found { $found }
sieve-expected-comma-paren = expected `,` or `)` in the test list opened at { $open }, found { $found }
sieve-expected-test = expected a test
sieve-why-replies = it would send automatic replies out
sieve-why-notifications = it would send notifications out
sieve-why-redirect = redirect is not supported: it would send mail out
sieve-why-redirect-command = it would send mail out; use fileinto instead
sieve-why-flags = IMAP flags mean nothing to POP3
sieve-why-variables = the variables extension is not available
sieve-why-include = scripts cannot include other scripts
sieve-why-unchanged = messages are stored exactly as received
sieve-why-ihave = the ihave extension is not available
sieve-why-mime = MIME part iteration is not available
sieve-needs = `{ $name }` needs { $what }
sieve-needs-require = { $what } needs `require "{ $capability }";` at the top of the script
sieve-else-without-if = `{ $name }` must follow the block of an `if` or `elsif`
sieve-copy-twice = `:copy` is given twice
sieve-fileinto-tag-unsupported = `:{ $tag }` for `fileinto` is not supported by Buzón; only `:copy` is
sieve-fileinto-tag-unknown = unknown tagged argument `:{ $tag }` for `fileinto`; it accepts only `:copy`
sieve-what-folder = the folder name, as in fileinto "Work"
sieve-no-tags = `{ $name }` takes no tagged argument such as `:{ $tag }`
sieve-what-reason = the reason, as in reject "not wanted here"
sieve-command-unsupported = `{ $name }` is not supported by Buzón: { $why }
sieve-command-unknown = unknown command `{ $name }`; Buzón supports require, if, elsif, else, stop, keep, discard, fileinto, reject and ereject
sieve-require-first = `require` must come before every other command (RFC 5228 §3.2); move it to the top of the script
sieve-what-capabilities = one string list of capabilities, as in require ["fileinto", "envelope"];
sieve-require-needs-names = `require` needs capability names in a string or string list
sieve-extension-unsupported = the Sieve extension "{ $extension }" is not supported by Buzón; it supports { $supported }
sieve-extension-unsupported-why = the Sieve extension "{ $extension }" is not supported by Buzón: { $why }; it supports { $supported }
sieve-extension-unknown = unknown Sieve extension "{ $extension }" in `require`; Buzón supports { $supported }
sieve-one-test-not-list = `{ $name }` takes one test, not a list; combine tests with allof (…) or anyof (…)
sieve-what-test-before-block = a test before its block
sieve-what-block = a block `{ "{" } … { "}" }`
sieve-test-unsupported = the `{ $name }` test is not supported by Buzón
sieve-test-unknown = unknown test `{ $name }`; Buzón supports address, envelope, header, exists, size, allof, anyof, not, true and false
sieve-the-envelope-test = the `envelope` test
sieve-the-header-names = the header names
sieve-the-envelope-parts = the envelope parts
sieve-what-two-lists = two string lists, { $what } and the keys, as in { $example }
sieve-a-match-type = match type
sieve-a-comparator = comparator
sieve-an-address-part = address part
sieve-comparator-needs-name = `:comparator` must be followed by a comparator name, as in :comparator "i;octet"
sieve-comparator-unsupported = comparator "{ $comparator }" is not supported by Buzón; use "i;ascii-casemap" (the default) or "i;octet"
sieve-relational-unsupported = `:{ $tag }` (the relational extension, RFC 5231) is not supported by Buzón
sieve-regex-unsupported = `:regex` (the regex extension) is not supported by Buzón; use :matches with * and ?
sieve-match-tag-unknown-header = unknown tagged argument `:{ $tag }` for `{ $name }`; it accepts :is, :contains, :matches and :comparator
sieve-match-tag-unknown = unknown tagged argument `:{ $tag }` for `{ $name }`; it accepts :is, :contains, :matches, :comparator, :all, :localpart, :domain, :user and :detail
sieve-what-test-list = a list of tests in parentheses, as in { $name } (exists "From", exists "Date")
sieve-not-one-test = `not` takes one test, not a list; write not anyof (…) or not allof (…)
sieve-what-not-test = a test, as in not exists "Date"
sieve-only-one = only one { $what } may be given; the first is at { $first }
sieve-address-header = the `address` test only looks at header fields holding addresses (such as From, To, Cc, Sender, Reply-To); "{ $header }" is not one; use the `header` test for it
sieve-envelope-part = envelope part "{ $part }" is not supported by Buzón; use "from" or "to"
sieve-what-exists = one string list of header names, as in exists ["From", "Date"]
sieve-size-tag-unknown = unknown tagged argument `:{ $tag }` for `size`; use :over or :under
sieve-size-one-of = `size` takes exactly one of :over and :under
sieve-what-size-tag = :over or :under, as in size :over 100K
sieve-size-needs-number = `size` needs a number, as in size :over 100K
sieve-size-one-number = `size` takes one number
sieve-what-number = a number, as in size :over 100K
sieve-tag-after-arguments = tagged argument `:{ $tag }` must come before the other arguments of `{ $name }` (the first is at { $first })
sieve-needs-strings-here = `{ $name }` needs a string or string list here
sieve-needs-single-string = `{ $name }` needs a single string, not a string list, for { $what }
sieve-needs-string = `{ $name }` needs a string: { $what }
sieve-what-a-string = a string: { $what }
sieve-one-string = `{ $name }` takes one string: { $what }
sieve-bad-header-name = invalid header name { $header }: a header name is printable ASCII without spaces or `:`
sieve-no-arguments = `{ $name }` takes no arguments
sieve-unexpected-after = unexpected `{ $found }` after `{ $name }`: is a `;` missing?
sieve-no-tests = `{ $name }` takes no tests
sieve-no-block = `{ $name }` takes no block; end it with `;`
sieve-test-no-arguments = the `{ $name }` test takes no arguments
sieve-unexpected-after-test = unexpected `{ $found }` after the `{ $name }` test: is a `,` or `)` missing?
sieve-test-no-test-list = the `{ $name }` test takes no test list

## The account's own pages (HTTPS /account).
web-title-login = Sign in
web-title-account = Your mail account
web-signed-in-as = Signed in as { $user }
web-sign-out = Sign out
web-user = User name
web-password = Password
web-code = Code from the authenticator app (or a recovery code)
web-code-hint = The code is needed only when two-step verification is on. App passwords do not sign in here: use the account's password.
web-sign-in = Sign in
web-csrf = This form is out of date or did not come from this site; reload the page and try again.
web-login-failed = Sign-in failed: check the user name, the password and, with two-step verification, the code.
web-login-throttled = Too many failed sign-ins from here or for this user; wait a few minutes and try again.
web-login-unavailable = The server cannot check this right now; try again in a moment.
web-app-passwords = App passwords
web-app-none = No app passwords yet.
web-app-name = Name
web-app-scope = Where
web-app-scope-all = all mail protocols
web-app-created-col = Created
web-app-last-used = Last used
web-app-from = From
web-app-never = never
web-app-create = Create app password
web-app-revoke = Revoke
web-app-created = App password { $name }, shown only now:
web-two-step = Two-step verification
web-two-step-on = Two-step verification is on: mail programs sign in with app passwords.
web-two-step-off = Two-step verification is off: mail programs may use the account's password.
web-two-step-enable = Turn on two-step verification
web-two-step-disable = Turn off two-step verification
web-two-step-scan = Scan this code with an authenticator app (Aegis, Google Authenticator, FreeOTP…), or type the secret into it, then enter the code it shows.
web-two-step-secret = Secret:
web-two-step-confirm = Confirm
web-two-step-wrong-code = That code is not right: check that the phone's clock is correct and use the code shown now.
web-two-step-enabled = Two-step verification is on. Recovery codes, each usable once if the phone is lost:
web-setup = Set up your mail program
web-setup-text = Incoming mail (POP3): server { $host }, port { $port }, SSL/TLS on, user name { $user }, normal password (an app password when two-step verification is on).
web-apple-profile = Configuration profile for Apple Mail (iPhone, iPad, Mac)
web-back = Back to the account
web-password-title = Password
web-password-current = Current password
web-password-new = New password
web-password-again = New password again
web-password-change = Change password
web-password-short = The new password is too short: use at least 10 characters, for example four unrelated words.
web-password-weak = The new password is too easy to guess (strength { $score } of 4; at least 3 is needed): avoid names, dates, keyboard patterns and common words, or use four unrelated words.
web-password-current-wrong = The current password is not right; nothing was changed.
web-password-differ = The two new passwords differ; nothing was changed.
web-password-changed = The password was changed. Mail programs that use it need the new one; other signed-in browsers were signed out.
web-admin = Administration
web-admin-only = Only administrators ([web] admins) may see this page.
web-admin-users = Users
web-admin-scheme = Password scheme
web-admin-state = State
web-admin-active = active
web-admin-disabled = disabled
web-admin-enable = Enable
web-admin-disable = Disable
web-admin-reset = New password
web-admin-add = Add user
web-admin-sessions = Open POP3 sessions
web-admin-open-for = Open for
web-admin-failing = Failed logins and penalties
web-admin-failures = Recent failures
web-admin-penalty = Next attempt waits
web-admin-kind-user = user
web-admin-kind-network = network
web-admin-counters-title = Counters since start
web-admin-counters = { $ok } logins, { $failed } failed; { $delivered } messages delivered, { $delivery_failures } delivery failures.
web-mailbox = Mailbox
web-usage-of = { $used } of { $limit } used ({ $percent } %), { $messages } messages.
web-usage = { $used } used, { $messages } messages; no quota.
web-logins = Recent logins
web-logins-none = No logins recorded yet.
web-logins-when = When
web-logins-how = How
web-steps-thunderbird-title = Thunderbird
web-steps-thunderbird = Add a mail account with your name, address and password: Thunderbird finds the settings by itself. If it asks, choose POP3, server { $host }, port { $port }, SSL/TLS, normal password, user name { $user }.
web-steps-outlook-title = Outlook
web-steps-outlook = File › Add account, type your address, choose Advanced options › Let me set up my account manually › POP. Incoming mail: { $host }, port { $port }, "This server requires an encrypted connection (SSL/TLS)" ticked; user name { $user }.
web-steps-apple-title = Apple Mail (iPhone, iPad, Mac)
web-steps-apple = Download the configuration profile above and open it (Settings › Profile downloaded › Install); or add an account of type Other › Mail account › POP with server { $host } and user name { $user }.
web-steps-android-title = Android (Thunderbird for Android, K-9 Mail)
web-steps-android = Add an account, type your address, choose POP3 when asked: server { $host }, security SSL/TLS, port { $port }, user name { $user }.
web-steps-fetch-title = buzon fetch
web-steps-fetch = buzon setup with your address writes the account for you; or buzon fetch --host { $host } --port { $port } --user { $user } --maildir ~/Maildir.
web-errors-title = When it does not work
web-error-password = "Authentication failed" or the program asks for the password again: the password is wrong (with two-step verification on, use an app password), or the user name should be { $user }.
web-error-server = "Server not found": the server name is wrong; it is { $host }.
web-error-firewall = It waits and then gives up (a time-out, not a refusal): a firewall or antivirus is blocking port { $port }; allow it, or try another network.
web-error-tls = A security or certificate warning, or "connection refused" on port 110: turn SSL/TLS on and use port { $port }; the certificate must be for { $host }.
web-admin-quota = Quota
web-admin-quota-bad = { $value } is not a size: write 500M, 1G or 2G, or leave it empty for the default
