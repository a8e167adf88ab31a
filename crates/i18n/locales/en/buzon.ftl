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

## SASL (RFC 5034) exchange problems.

sasl-bad-base64 = Invalid base64 data
sasl-plain-shape = Invalid PLAIN message: expected authzid NUL authcid NUL password
sasl-plain-nul-password = Invalid PLAIN message: NUL in password
sasl-plain-user-not-utf8 = Invalid PLAIN message: user name is not UTF-8
sasl-plain-authzid-not-utf8 = Invalid PLAIN message: authzid is not UTF-8
sasl-plain-empty-user = Invalid PLAIN message: empty user name
