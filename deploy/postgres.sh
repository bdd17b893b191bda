#!/bin/sh
# postgres.sh: the entrypoint of docker-compose.ha.yml's PostgreSQL server,
# run as the postgres user. On the first start it makes the database
# cluster in the volume (PGDATA), the role groupchat and its database
# groupchat; on every start it gives the role the password db-keys keeps
# (postgres-keys.sh) when that changed; then it runs the server in the
# foreground, logging to stderr for `docker logs`.
#
# What the cluster is made to allow, and nothing else:
#   - the role groupchat, owner of the database groupchat (so it makes
#     and migrates the broker's tables), no superuser, from any address
#     of the compose network, over TLS only (hostssl), with its password
#     checked by SCRAM-SHA-256 (the password never crosses the network);
#   - the superuser postgres over the unix socket in the container only,
#     for this script and `docker compose exec postgres psql`.
# The settings are appended to postgresql.conf and pg_hba.conf in the
# volume once; edit them there afterwards (a replica's line, for one:
# docs/operations.md).
set -eu

data=${PGDATA:-/var/lib/postgresql/data}
keys=/keys/postgres
socket=/tmp

s_make_cluster () {
    echo "postgres: no database cluster in $data: making one"
    initdb -D "$data" -U postgres -E UTF8 --locale=C --auth-local=peer \
           --auth-host=reject >/dev/null
    cat >>"$data/postgresql.conf" <<EOF

# groupchat (deploy/postgres.sh): the compose network only reaches this
# container, so every address of it listens; TLS with the pair db-keys made
listen_addresses = '*'
unix_socket_directories = '$socket'
ssl = on
ssl_cert_file = '$keys/server.crt'
ssl_key_file = '$keys/server.key'
password_encryption = 'scram-sha-256'
EOF
    cat >"$data/pg_hba.conf" <<EOF
# groupchat (deploy/postgres.sh): the brokers over TLS with a password,
# the superuser through the socket in this container
# TYPE    DATABASE   USER       ADDRESS  METHOD
local     all        postgres            peer
hostssl   groupchat  groupchat  all      scram-sha-256
EOF
}

#  The role and its database when missing, and the role's password from
#  db-keys' file (read by psql itself: in no command line, no log)
s_set_password () {
    pg_ctl -D "$data" -w -s -o "-c listen_addresses=''" start
    psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -U postgres -d postgres <<EOF
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'groupchat') AS no_role \gset
\if :no_role
CREATE ROLE groupchat LOGIN;
\endif
\set password \`cat $keys/password\`
ALTER ROLE groupchat PASSWORD :'password';
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = 'groupchat') AS no_database \gset
\if :no_database
CREATE DATABASE groupchat OWNER groupchat;
\endif
EOF
    pg_ctl -D "$data" -w -s -m fast stop
}

[ -s "$keys/password" ] || { echo "postgres: no password in $keys (db-keys)" >&2; exit 1; }
[ -s "$data/PG_VERSION" ] || s_make_cluster
#  Only the password's fingerprint is kept beside the data
given=$(sha256sum "$keys/password" | cut -d ' ' -f 1)
if [ "$given" != "$(cat "$data/groupchat-password.sha256" 2>/dev/null || true)" ]; then
    s_set_password
    echo "$given" >"$data/groupchat-password.sha256"
    echo "postgres: the role groupchat has the password db-keys keeps"
fi
exec postgres -D "$data"
