#!/bin/sh
# tls-init.sh: puts the certificate that haproxy serves wss:// with (port
# 8443) into its store, the named volume groupchat-tls. docker-compose.yml
# runs it as the one-shot service `tls` at every `up`, before lb starts.
#
# The certificate served is, in this order:
#   1. cert.pem and key.pem from the folder named by GROUPCHAT_TLS_DIR
#      (mounted read-only at /etc/haproxy/tls-given), when it holds them:
#      the operator's own, read again at every run, so that replacing
#      them, running this again and restarting lb rotates them;
#   2. else the self-signed certificate made by an earlier run, kept in
#      the store (its fingerprint stays what clients were given);
#   3. else a new self-signed one for localhost, 127.0.0.1 and ::1
#      (ECDSA P-256, 825 days), kept for the next runs.
#
# The store then holds, owned by haproxy (lb's user) in a folder only it
# may enter (0700), every file 0600:
#   cert.pem          the certificate served, with its chain: what
#                     clients are given to trust (groupchat --ca)
#   haproxy.pem       the same followed by its key, as haproxy's `crt` reads it
#   self-signed.pem, self-signed.key   the pair made here, once made
#
# Prints what it serves (where from, names, expiry, SHA-256 fingerprint).
# Exits 1, so that lb does not start, on half a pair, a file that is not
# PEM of its kind, an encrypted key (haproxy asks no passphrase) or a key
# that is not the certificate's.
#
# For running it outside the image (the tests): GROUPCHAT_TLS_STORE
# (/etc/haproxy/tls), GROUPCHAT_TLS_GIVEN (/etc/haproxy/tls-given) and
# GROUPCHAT_TLS_OWNER (haproxy).
set -eu

store=${GROUPCHAT_TLS_STORE:-/etc/haproxy/tls}
given=${GROUPCHAT_TLS_GIVEN:-/etc/haproxy/tls-given}
owner=${GROUPCHAT_TLS_OWNER:-haproxy}
days=825
umask 077

s_fail () {
    echo "tls: $*" >&2
    exit 1
}

#  Fails unless $1 holds a PEM certificate and $2 the unencrypted PEM key
#  of that certificate (the same public key)
s_check_pair () {
    from_cert=$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null) \
        || s_fail "$1: no PEM certificate"
    from_key=$(openssl pkey -in "$2" -passin pass: -pubout 2>/dev/null) \
        || s_fail "$2: no unencrypted PEM private key (haproxy asks no passphrase)"
    [ "$from_cert" = "$from_key" ] || s_fail "$2 is not the key of the certificate in $1"
}

#  The self-signed pair for localhost: the key moved into place first, so
#  that a certificate in the store always has its key beside it
s_make_self_signed () {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days "$days" -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -addext "keyUsage=critical,digitalSignature" \
        -addext "extendedKeyUsage=serverAuth" \
        -keyout "$store/self-signed.key.new" -out "$store/self-signed.pem.new" 2>/dev/null \
        || s_fail "openssl could not make a self-signed certificate"
    mv -f "$store/self-signed.key.new" "$store/self-signed.key"
    mv -f "$store/self-signed.pem.new" "$store/self-signed.pem"
}

#  Only the CERTIFICATE blocks of a PEM file, in their order
s_certificates () {
    sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p' "$1"
}

#  Writes $1 as haproxy's, atomically, from standard input
s_install () {
    cat >"$store/$1.new"
    chmod 0600 "$store/$1.new"
    chown "$owner:" "$store/$1.new"
    mv -f "$store/$1.new" "$store/$1"
}

mkdir -p "$store"
chown "$owner:" "$store"
chmod 0700 "$store"

if [ -e "$given/cert.pem" ] || [ -e "$given/key.pem" ]; then
    if [ ! -e "$given/cert.pem" ] || [ ! -e "$given/key.pem" ]; then
        s_fail "$given must hold both cert.pem and key.pem, or neither"
    fi
    cert=$given/cert.pem key=$given/key.pem origin="the certificate given in GROUPCHAT_TLS_DIR"
elif [ -e "$store/self-signed.pem" ]; then
    cert=$store/self-signed.pem key=$store/self-signed.key origin="the self-signed certificate kept"
else
    s_make_self_signed
    cert=$store/self-signed.pem key=$store/self-signed.key origin="a new self-signed certificate"
fi
s_check_pair "$cert" "$key"
openssl x509 -in "$cert" -noout -checkend 0 >/dev/null \
    || echo "tls: warning: the certificate in $cert has expired; clients will refuse it" >&2

s_certificates "$cert" | s_install cert.pem
{ cat "$store/cert.pem"; openssl pkey -in "$key" -passin pass:; } | s_install haproxy.pem
for file in self-signed.pem self-signed.key; do
    [ ! -e "$store/$file" ] || chown "$owner:" "$store/$file"
done

#  What it serves, for `docker compose logs tls`
s_field () {
    openssl x509 -in "$store/cert.pem" -noout -nameopt RFC2253 "$@" 2>/dev/null
}
echo "tls: serving $origin"
echo "tls:   subject $(s_field -subject | sed 's/^subject=//')"
echo "tls:   names $(s_field -ext subjectAltName | sed -n '2s/^ *//p')"
echo "tls:   valid until $(s_field -enddate | sed 's/^notAfter=//')"
echo "tls:   SHA-256 fingerprint $(s_field -fingerprint -sha256 | sed 's/^.*=//')"
