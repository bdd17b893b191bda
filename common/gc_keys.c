/*  gc_keys.c: key folders of the broker link, made, loaded and applied
    to ZeroMQ sockets (gc_keys.h says what lives where).

    Making keys is careful about files: a secret is written only into a
    folder that only its owner can enter, and nothing that exists is ever
    written over, so running `keys init` again, or by two starts at once,
    can only complete a folder, never change a key someone already uses. */
#include <arpa/inet.h>
#include <sys/stat.h>
#include "gc_alloc.h"
#include "gc_keys.h"
#include "gc_log.h"

struct gc_keys_t {
    zcert_t *own;               //  this program's pair
    char *broker;               //  the broker's public key (Z85); NULL on the broker
    char *dir;                  //  the folder it came from
};

//  --------------------------------------------------------------------------
//  Which endpoints stay on this host

//  True for 127.0.0.0/8, ::1 and localhost
static bool
s_host_is_local (const char *host, size_t size)
{
    char text [INET6_ADDRSTRLEN + 1];
    if (size == 0 || size >= sizeof text)
        return false;
    memcpy (text, host, size);
    text [size] = 0;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton (AF_INET, text, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) == 127;
    if (inet_pton (AF_INET6, text, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK (&v6);
    return streq (text, "localhost");
}

bool
gc_endpoint_is_local (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) == 0 || strncmp (endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *port = strrchr (host, ':');
    //  A source address ("tcp://src;dst") is not worth understanding here
    if (!port || strchr (host, ';'))
        return false;
    size_t size = (size_t) (port - host);
    if (size >= 2 && host [0] == '[' && host [size - 1] == ']')
        return s_host_is_local (host + 1, size - 2);
    return s_host_is_local (host, size);
}

int
gc_keys_allow (const char *endpoint, bool keys, bool insecure, char *why, size_t size)
{
    if (keys || insecure || gc_endpoint_is_local (endpoint))
        return 0;
    snprintf (why, size, "%s may be reached from other hosts, and the broker link has no "
              "keys: give --keys DIR (groupchat-admin keys init makes them, see "
              "docs/security.md), or --insecure to trust whoever reaches it", endpoint);
    return -1;
}

//  --------------------------------------------------------------------------
//  Loading and applying

static char *
s_path (const char *dir, const char *name, const char *suffix)
{
    return zsys_sprintf ("%s/%s%s", dir, name, suffix);
}

//  A secret others can read is no secret: said, not refused, as a
//  container volume may show odd modes
static void
s_check_private (const char *path)
{
    struct stat info;
    if (stat (path, &info) == 0 && (info.st_mode & 077))
        gc_warn ("key file=%s can be read by others than its owner (chmod 600 it)", path);
}

gc_keys_t *
gc_keys_load (const char *dir, const char *own)
{
    gc_keys_t *self = gc_calloc (1, sizeof *self);
    self->dir = gc_strdup (dir);
    char *pair = s_path (dir, own, ".cert");
    char *secret = s_path (dir, own, ".cert_secret");
    char *broker = s_path (dir, "broker", ".cert");
    if (access (secret, R_OK) != 0)
        gc_error ("cannot read the key pair %s: %s (groupchat-admin keys init makes it)",
                  secret, strerror (errno));
    else
        self->own = zcert_load (pair);
    if (self->own)
        s_check_private (secret);
    if (self->own && !streq (own, "broker")) {
        zcert_t *public = zcert_load (broker);
        if (public)
            self->broker = gc_strdup (zcert_public_txt (public));
        else
            gc_error ("cannot read the broker's public key %s", broker);
        zcert_destroy (&public);
    }
    bool loaded = self->own && (self->broker || streq (own, "broker"));
    zstr_free (&pair);
    zstr_free (&secret);
    zstr_free (&broker);
    if (!loaded)
        gc_keys_destroy (&self);
    return self;
}

void
gc_keys_destroy (gc_keys_t **self_p)
{
    gc_keys_t *self = *self_p;
    if (!self)
        return;
    zcert_destroy (&self->own);
    free (self->broker);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

void
gc_keys_serve (gc_keys_t *self, zsock_t *sock, const char *domain)
{
    zcert_apply (self->own, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, domain);
}

void
gc_keys_dial (gc_keys_t *self, zsock_t *sock)
{
    zcert_apply (self->own, sock);
    zsock_set_curve_serverkey (sock, self->broker);
}

const char *
gc_keys_dir (gc_keys_t *self)
{
    return self->dir;
}

const char *
gc_keys_public (gc_keys_t *self)
{
    return zcert_public_txt (self->own);
}

//  --------------------------------------------------------------------------
//  Making keys

//  A folder only its owner enters; an existing one is kept as it is
static int
s_folder (const char *path, FILE *stream)
{
    if (mkdir (path, 0700) == 0 || errno == EEXIST)
        return 0;
    fprintf (stream, "cannot make the folder %s: %s\n", path, strerror (errno));
    return -1;
}

static bool
s_exists (const char *path)
{
    return access (path, F_OK) == 0;
}

//  DIR/NAME.cert's pair: loaded when there, else made. NULL after saying
//  why, e.g. for a public key whose secret is gone.
static zcert_t *
s_pair (const char *dir, const char *name, FILE *stream)
{
    char *path = s_path (dir, name, ".cert");
    char *secret = s_path (dir, name, ".cert_secret");
    zcert_t *cert = NULL;
    if (s_exists (secret))
        cert = zcert_load (path);
    else
    if (s_exists (path))
        fprintf (stream, "%s is there without its secret %s: restore the secret or "
                 "remove the key\n", path, secret);
    else {
        cert = zcert_new ();
        zcert_set_meta (cert, "role", "%s", name);
        if (zcert_save (cert, path) == 0)
            fprintf (stream, "made %s (key pair)\n", secret);
        else {
            fprintf (stream, "cannot write %s: %s\n", path, strerror (errno));
            zcert_destroy (&cert);
        }
    }
    if (!cert && s_exists (secret))
        fprintf (stream, "cannot read the key pair %s\n", secret);
    zstr_free (&path);
    zstr_free (&secret);
    return cert;
}

//  Writes cert's public part to DIR/NAME.cert unless a file is there
static int
s_public (zcert_t *cert, const char *dir, const char *name, FILE *stream)
{
    char *path = s_path (dir, name, ".cert");
    int rc = 0;
    if (!s_exists (path)) {
        rc = zcert_save_public (cert, path);
        if (rc == 0)
            fprintf (stream, "made %s (public key)\n", path);
        else
            fprintf (stream, "cannot write %s: %s\n", path, strerror (errno));
    }
    zstr_free (&path);
    return rc;
}

//  Every folder first: czmq resets the process's umask after writing a
//  secret, and folders made after that would be open to others
static int
s_folders (const char *dir, const char *const *names, FILE *stream)
{
    if (s_folder (dir, stream))
        return -1;
    for (int index = 0; names [index]; index++) {
        char *path = s_path (dir, "", names [index]);
        int rc = s_folder (path, stream);
        zstr_free (&path);
        if (rc)
            return -1;
    }
    return 0;
}

//  A client's folder: its pair, and the broker's public key beside it.
//  Returns the pair, or NULL after saying why.
static zcert_t *
s_client (const char *dir, const char *role, zcert_t *broker, FILE *stream)
{
    zcert_t *cert = s_pair (dir, role, stream);
    if (cert && s_public (broker, dir, "broker", stream))
        zcert_destroy (&cert);
    return cert;
}

int
gc_keys_init (const char *dir, FILE *stream)
{
    static const char *const folders [] = {
        "/broker", "/broker/" GC_KEYS_GATEWAYS, "/broker/" GC_KEYS_ADMINS,
        "/gateway", "/admin", NULL
    };
    mode_t saved = umask (077);
    if (s_folders (dir, folders, stream)) {
        umask (saved);
        return -1;
    }
    char *broker_dir = s_path (dir, "broker", "");
    char *gateway_dir = s_path (dir, "gateway", "");
    char *admin_dir = s_path (dir, "admin", "");
    char *gateways = s_path (broker_dir, GC_KEYS_GATEWAYS, "");
    char *admins = s_path (broker_dir, GC_KEYS_ADMINS, "");
    zcert_t *broker = s_pair (broker_dir, "broker", stream);
    zcert_t *gateway = broker? s_client (gateway_dir, "gateway", broker, stream): NULL;
    zcert_t *admin = gateway? s_client (admin_dir, "admin", broker, stream): NULL;
    int rc = admin && s_public (gateway, gateways, "gateway", stream) == 0
                   && s_public (admin, admins, "admin", stream) == 0? 0: -1;
    zcert_destroy (&broker);
    zcert_destroy (&gateway);
    zcert_destroy (&admin);
    zstr_free (&broker_dir);
    zstr_free (&gateway_dir);
    zstr_free (&admin_dir);
    zstr_free (&gateways);
    zstr_free (&admins);
    umask (saved);
    return rc;
}

//  A name that is one plain file name: letters, digits, '.', '_', '-',
//  not starting with a dot
static bool
s_name_is_plain (const char *name)
{
    if (!*name || *name == '.' || strlen (name) > 64)
        return false;
    for (const char *at = name; *at; at++)
        if (!isalnum ((unsigned char) *at) && !strchr ("._-", *at))
            return false;
    return true;
}

int
gc_keys_add (const char *dir, const char *role, const char *name, FILE *stream)
{
    bool gateway = streq (role, "gateway");
    if (!gateway && !streq (role, "admin"))
        return fprintf (stream, "a key is for a gateway or an admin, not \"%s\"\n", role), -1;
    if (!s_name_is_plain (name))
        return fprintf (stream, "a key's name is letters, digits, '.', '_' and '-'\n"), -1;
    char *folder = zsys_sprintf ("%s/%s-%s", dir, role, name);
    char *trusted_dir = zsys_sprintf ("%s/broker/%s", dir, gateway? GC_KEYS_GATEWAYS: GC_KEYS_ADMINS);
    char *trusted = s_path (trusted_dir, name, ".cert");
    char *broker_path = zsys_sprintf ("%s/broker/broker.cert", dir);
    zcert_t *broker = s_exists (broker_path)? zcert_load (broker_path): NULL;
    int rc = -1;
    if (!broker)
        fprintf (stream, "no broker key in %s/broker: run groupchat-admin keys init %s first\n",
                 dir, dir);
    else
    if (s_exists (folder) || s_exists (trusted))
        fprintf (stream, "%s or %s is there already: choose another name\n", folder, trusted);
    else {
        mode_t saved = umask (077);
        zcert_t *cert = s_folder (folder, stream) == 0? s_client (folder, role, broker, stream): NULL;
        rc = cert? s_public (cert, trusted_dir, name, stream): -1;
        zcert_destroy (&cert);
        umask (saved);
    }
    zcert_destroy (&broker);
    zstr_free (&folder);
    zstr_free (&trusted_dir);
    zstr_free (&trusted);
    zstr_free (&broker_path);
    return rc;
}

//  --------------------------------------------------------------------------
//  Self test

static mode_t
s_test_mode (const char *dir, const char *name)
{
    char *path = s_path (dir, "", name);
    struct stat info;
    assert (stat (path, &info) == 0);
    zstr_free (&path);
    return info.st_mode & 0777;
}

static void
s_test_endpoints (void)
{
    assert (gc_endpoint_is_local ("tcp://127.0.0.1:5555"));
    assert (gc_endpoint_is_local ("tcp://127.1.2.3:*"));
    assert (gc_endpoint_is_local ("tcp://localhost:5555"));
    assert (gc_endpoint_is_local ("tcp://[::1]:5555"));
    assert (gc_endpoint_is_local ("ipc:///tmp/broker"));
    assert (gc_endpoint_is_local ("inproc://broker"));
    assert (!gc_endpoint_is_local ("tcp://*:5555"));
    assert (!gc_endpoint_is_local ("tcp://0.0.0.0:5555"));
    assert (!gc_endpoint_is_local ("tcp://[::]:5555"));
    assert (!gc_endpoint_is_local ("tcp://broker:5555"));
    assert (!gc_endpoint_is_local ("tcp://10.0.0.7:5555"));
    assert (!gc_endpoint_is_local ("tcp://lo:5555"));
    assert (!gc_endpoint_is_local ("tcp://127.0.0.1;10.0.0.7:5555"));
    assert (!gc_endpoint_is_local ("tcp://localhost.example.com:5555"));
    assert (!gc_endpoint_is_local ("tcp://127.0.0.1"));
    assert (!gc_endpoint_is_local ("udp://127.0.0.1:5555"));
    char why [300];
    assert (gc_keys_allow ("tcp://*:5555", true, false, why, sizeof why) == 0);
    assert (gc_keys_allow ("tcp://*:5555", false, true, why, sizeof why) == 0);
    assert (gc_keys_allow ("tcp://127.0.0.1:5555", false, false, why, sizeof why) == 0);
    assert (gc_keys_allow ("tcp://*:5555", false, false, why, sizeof why) == -1);
    assert (strstr (why, "tcp://*:5555") && strstr (why, "--keys") && strstr (why, "--insecure"));
}

//  The public key in DIR/NAME.cert
static char *
s_test_key (const char *dir, const char *name)
{
    char *path = s_path (dir, name, ".cert");
    zcert_t *cert = zcert_load (path);
    assert (cert);
    char *key = gc_strdup (zcert_public_txt (cert));
    zcert_destroy (&cert);
    zstr_free (&path);
    return key;
}

static void
s_test_init (const char *dir, FILE *out)
{
    assert (gc_keys_init (dir, out) == 0);
    assert (s_test_mode (dir, "broker") == 0700 && s_test_mode (dir, "gateway") == 0700);
    assert (s_test_mode (dir, "broker/gateways") == 0700);
    assert (s_test_mode (dir, "broker/broker.cert_secret") == 0600);
    assert (s_test_mode (dir, "gateway/gateway.cert_secret") == 0600);
    assert (s_test_mode (dir, "admin/admin.cert_secret") == 0600);
    //  Run again, it keeps every key; a public key removed comes back
    char *broker = s_test_key (dir, "broker/broker");
    char *trusted = s_test_key (dir, "broker/gateways/gateway");
    char *path = s_path (dir, "gateway/broker", ".cert");
    assert (unlink (path) == 0);
    assert (gc_keys_init (dir, out) == 0);
    char *again = s_test_key (dir, "gateway/broker");
    char *trusted_again = s_test_key (dir, "broker/gateways/gateway");
    assert (streq (broker, again) && streq (trusted, trusted_again));
    free (broker), free (again), free (trusted), free (trusted_again);
    zstr_free (&path);
    //  A public key whose secret is gone is not silently replaced
    path = s_path (dir, "admin/admin", ".cert_secret");
    char *moved = s_path (dir, "admin/admin", ".moved");
    assert (rename (path, moved) == 0);
    assert (gc_keys_init (dir, out) == -1);
    assert (rename (moved, path) == 0);
    zstr_free (&path);
    zstr_free (&moved);
}

static void
s_test_load (const char *dir)
{
    char *folder = s_path (dir, "gateway", "");
    gc_keys_t *gateway = gc_keys_load (folder, "gateway");
    assert (gateway && streq (gc_keys_dir (gateway), folder));
    char *trusted = s_test_key (dir, "broker/gateways/gateway");
    assert (streq (gc_keys_public (gateway), trusted));
    char *broker_dir = s_path (dir, "broker", "");
    gc_keys_t *broker = gc_keys_load (broker_dir, "broker");
    assert (broker && streq (gateway->broker, gc_keys_public (broker)));
    //  The broker's folder has no gateway pair; a client's needs broker.cert
    assert (gc_keys_load (broker_dir, "gateway") == NULL);
    assert (gc_keys_load ("/nonexistent/keys", "broker") == NULL);
    gc_keys_destroy (&gateway);
    gc_keys_destroy (&broker);
    gc_keys_destroy (&broker);
    free (trusted);
    zstr_free (&folder);
    zstr_free (&broker_dir);
}

static void
s_test_add (const char *dir, FILE *out)
{
    assert (gc_keys_add (dir, "gateway", "edge-2", out) == 0);
    char *folder = s_path (dir, "gateway-edge-2", "");
    gc_keys_t *keys = gc_keys_load (folder, "gateway");
    char *trusted = s_test_key (dir, "broker/gateways/edge-2");
    assert (keys && streq (gc_keys_public (keys), trusted));
    assert (s_test_mode (dir, "gateway-edge-2") == 0700);
    assert (gc_keys_add (dir, "gateway", "edge-2", out) == -1);
    assert (gc_keys_add (dir, "gateway", "../x", out) == -1);
    assert (gc_keys_add (dir, "gateway", ".hidden", out) == -1);
    assert (gc_keys_add (dir, "broker", "b2", out) == -1);
    assert (gc_keys_add ("/nonexistent/keys", "admin", "a2", out) == -1);
    gc_keys_destroy (&keys);
    free (trusted);
    zstr_free (&folder);
}

void
gc_keys_test (bool verbose)
{
    if (verbose)
        printf (" * gc_keys: ");
    s_test_endpoints ();
    char dir [] = "/tmp/gc_keys_test_XXXXXX";
    assert (mkdtemp (dir));
    char *keys = s_path (dir, "keys", "");
    FILE *out = fopen ("/dev/null", "w");
    s_test_init (keys, out);
    s_test_load (keys);
    s_test_add (keys, out);
    fclose (out);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    zstr_free (&keys);
    if (verbose)
        printf ("OK\n");
}
