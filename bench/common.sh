# Shared by bench/compare.sh and bench/profile.sh (sourced, not run).

# wait_port PORT: until something listens on 127.0.0.1:PORT (30 s at most).
wait_port() {
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: nothing listens on 127.0.0.1:$1 after 30 s" >&2
  return 1
}

# write_buzon_config DIR POP3 POP3S LMTP [STORE-TOML]: a Buzón node's configuration,
# serving DIR/mail with the users, hashes and certificate of $CORPUS.
write_buzon_config() {
  local b=$1
  cat > "$b/buzon.toml" <<CONF
# Buzón for bench/: loopback high ports, the corpus's users, hashes and certificate.
data_dir = "$b/data"
mail_dir = "$b/mail"
hostname = "bench.localhost"

[[listen]]
address = "127.0.0.1:$2"
protocol = "pop3"

[[listen]]
address = "127.0.0.1:$3"
protocol = "pop3s"

[[listen]]
address = "127.0.0.1:$4"
protocol = "lmtp"

[tls]
certificate = "$CORPUS/tls/cert.pem"
key = "$CORPUS/tls/key.pem"

[auth]
users_file = "$CORPUS/passwd"
cache_ttl = "1h"

[limits]
max_connections = 30000
max_connections_per_ip = 30000
${5:-}
CONF
}
