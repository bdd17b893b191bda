#!/bin/sh
# postgres-keys.sh: makes what the PostgreSQL server and the brokers of
# docker-compose.ha.yml meet with: the password of the database role
# groupchat and the server's TLS pair. The compose file runs it as the
# one-shot service db-keys at every `up`, before postgres starts. It makes
# only what is missing (so a later `up` changes nothing), and copies what
# the brokers need to their store each time.
#
# Two stores, each a named volume mounted only where it is needed:
#   /keys/postgres    the server's (groupchat-keys-postgres), owned by
#                     postgres, 0700:
#     password        the role's password: 32 random bytes, in hex
#     server.key      the server's TLS key (ECDSA P-256), 0600
#     server.crt      its self-signed certificate for the host name
#                     `postgres` (10 years: it is pinned by the brokers,
#                     not judged by a browser)
#   /keys/broker-db   the brokers' (groupchat-keys-broker-db), owned by
#                     the groupchat user (uid 10001), 0700:
#     pgpass          libpq's password file (passfile=), 0600
#     server.crt      the certificate the brokers check the server by
#                     (sslmode=verify-full, sslrootcert=)
#
# Nothing secret leaves the two volumes: the password is never printed,
# nor put in a command line or the environment. Delete `password` to get
# a new one at the next `up` (the server takes it when it restarts:
# postgres.sh), or both server.* files for a new certificate.
#
# For running it outside the image (the tests): GROUPCHAT_PG_STORE
# (/keys/postgres), GROUPCHAT_PG_CLIENT_STORE (/keys/broker-db),
# GROUPCHAT_PG_OWNER (postgres:), GROUPCHAT_PG_CLIENT_OWNER (10001:10001)
# and GROUPCHAT_PG_HOST (postgres).
set -eu

store=${GROUPCHAT_PG_STORE:-/keys/postgres}
client=${GROUPCHAT_PG_CLIENT_STORE:-/keys/broker-db}
owner=${GROUPCHAT_PG_OWNER:-postgres:}
client_owner=${GROUPCHAT_PG_CLIENT_OWNER:-10001:10001}
host=${GROUPCHAT_PG_HOST:-postgres}
umask 077

s_fail () {
    echo "db-keys: $*" >&2
    exit 1
}

#  Writes $2/$1 from standard input, owned by $3, atomically: a file in a
#  store is always whole
s_install () {
    cat >"$2/$1.new"
    chmod "${4:-0600}" "$2/$1.new"
    chown "$3" "$2/$1.new"
    mv -f "$2/$1.new" "$2/$1"
}

mkdir -p "$store" "$client"
chown "$owner" "$store"
chown "$client_owner" "$client"
chmod 0700 "$store" "$client"

if [ ! -s "$store/password" ]; then
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' | s_install password "$store" "$owner"
    [ -s "$store/password" ] || s_fail "no random bytes for the password"
    echo "db-keys: made a new password for the role groupchat"
fi
if [ ! -s "$store/server.key" ] || [ ! -s "$store/server.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days 3650 -subj "/CN=$host" \
        -addext "subjectAltName=DNS:$host" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -addext "keyUsage=critical,digitalSignature" \
        -addext "extendedKeyUsage=serverAuth" \
        -keyout "$store/server.key.made" -out "$store/server.crt.made" 2>/dev/null \
        || s_fail "openssl could not make the server's certificate"
    s_install server.key "$store" "$owner" <"$store/server.key.made"
    s_install server.crt "$store" "$owner" 0644 <"$store/server.crt.made"
    rm -f "$store/server.key.made" "$store/server.crt.made"
    echo "db-keys: made a new TLS certificate for the host name $host"
fi

#  hostname:port:database:username:password; hex holds no ':' or '\'
{ printf '*:*:groupchat:groupchat:'; cat "$store/password"; echo; } \
    | s_install pgpass "$client" "$client_owner"
s_install server.crt "$client" "$client_owner" 0644 <"$store/server.crt"
echo "db-keys: the server's certificate, SHA-256 fingerprint" \
     "$(openssl x509 -in "$store/server.crt" -noout -fingerprint -sha256 | sed 's/^.*=//')"
