/*  listen.c: a gateway's listening socket in libwebsockets' terms.

    TLS is libwebsockets' own (OpenSSL underneath): given the certificate
    and key files it serves wss:// and https:// on the one port, and
    refuses clear text there. Our part is to refuse to start rather than
    serve half: lws skips a certificate file that is missing, and waits
    for an address that is not up yet, where we want a clear error. */
#include <arpa/inet.h>
#include <assert.h>
#include <string.h>
#include "listen.h"
#include "gc_log.h"
#include "gc_pem.h"

bool
gc_listen_is_tls (const gc_listen_config_t *config)
{
    return config->tls_cert && config->tls_key;
}

//  True when text is an IPv4 address
static bool
s_is_ipv4 (const char *text)
{
    struct in_addr address;
    return inet_pton (AF_INET, text, &address) == 1;
}

bool
gc_listen_is_address (const char *text)
{
    struct in6_addr address;
    return s_is_ipv4 (text) || inet_pton (AF_INET6, text, &address) == 1;
}

//  0 when the file named by flag is readable PEM of that label, else -1
//  after saying why
static int
s_check_file (const char *flag, const char *path, const char *label)
{
    char why [256];
    if (gc_pem_check (path, label, why, sizeof why) == 0)
        return 0;
    gc_error ("cannot start: --%s %s: %s", flag, path, why);
    return -1;
}

int
gc_listen_setup (const gc_listen_config_t *config, struct lws_context_creation_info *info)
{
    info->port = config->port;
    info->iface = config->address;
    //  A port or address we cannot have fails the start, instead of a
    //  gateway that listens nowhere until the address comes up
    info->options |= LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    //  An IPv4 address gets an IPv4 socket: given one for its IPv6
    //  socket, lws 4.1 binds every address instead (it stores the
    //  address where an IPv6 socket address does not hold it)
    if (config->address && s_is_ipv4 (config->address))
        info->options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (!gc_listen_is_tls (config))
        return 0;
    if (s_check_file ("tls-cert", config->tls_cert, GC_PEM_CERTIFICATE)
    ||  s_check_file ("tls-key", config->tls_key, GC_PEM_PRIVATE_KEY))
        return -1;
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info->ssl_cert_filepath = config->tls_cert;
    info->ssl_private_key_filepath = config->tls_key;
    //  HTTP/1.1 only: connections write whole WebSocket frames themselves
    //  (out.c), which an HTTP/2 stream could not carry
    info->alpn = "http/1.1";
    return 0;
}

//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    const gc_listen_config_t *config;
    struct lws_context_creation_info *info;
} s_test_setup_t;

static void
s_test_setup_fails (void *arg)
{
    s_test_setup_t *setup = arg;
    assert (gc_listen_setup (setup->config, setup->info) == -1);
}

void
gc_listen_test (bool verbose)
{
    printf (" * gc_listen: ");
    //  Clear text: port and address only, binding failures fatal
    gc_listen_config_t plain = { .port = 8080, .address = "127.0.0.1" };
    struct lws_context_creation_info info = { 0 };
    assert (!gc_listen_is_tls (&plain));
    assert (gc_listen_setup (&plain, &info) == 0);
    assert (info.port == 8080 && strcmp (info.iface, "127.0.0.1") == 0);
    assert (info.options & LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND);
    assert (info.options & LWS_SERVER_OPTION_DISABLE_IPV6);
    assert (!info.ssl_cert_filepath && !(info.options & LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT));

    //  IPv6 stays on for an IPv6 address, and for every address
    plain.address = "::1";
    info = (struct lws_context_creation_info) { 0 };
    assert (gc_listen_setup (&plain, &info) == 0);
    assert (!(info.options & LWS_SERVER_OPTION_DISABLE_IPV6));
    assert (gc_listen_is_address ("::1") && gc_listen_is_address ("0.0.0.0"));
    assert (!gc_listen_is_address ("localhost") && !gc_listen_is_address ("127.0.0.1:80"));
    assert (!gc_listen_is_address ("eth0") && !gc_listen_is_address (""));

    //  TLS whose files are not there: no start (what the files hold is
    //  gc_pem's test, a whole TLS gateway the integration tests')
    gc_listen_config_t missing = {
        .port = 8443, .tls_cert = "/nonexistent/cert.pem", .tls_key = "/nonexistent/key.pem"
    };
    info = (struct lws_context_creation_info) { 0 };
    assert (gc_listen_is_tls (&missing));
    char said [512];
    s_test_setup_t setup = { &missing, &info };
    assert (gc_log_catch (s_test_setup_fails, &setup, said, sizeof said) > 0);
    assert (strstr (said, "cannot start: --tls-cert /nonexistent/cert.pem: cannot read it"));
    assert (!info.ssl_cert_filepath);
    if (verbose)
        printf ("(addresses, binding failures fatal, missing files) ");
    printf ("OK\n");
}
