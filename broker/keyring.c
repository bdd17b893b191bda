/*  keyring.c: trusted keys by role, read from the broker's key folder.

    Reading is cheap (a few small files), so a refresh reads everything
    rather than guess from modification times, which miss a key file
    copied over another of the same size within a second. */
#include <czmq.h>
#include "keyring.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_log.h"

struct gc_keyring_t {
    char *dir;                  //  the broker's key folder
    zhashx_t *roles;            //  public key (Z85) -> gc_role_t
    int64_t read_at;            //  monotonic ms of the last read
};

static bool
s_is_public_cert (const char *name)
{
    size_t size = strlen (name);
    return name [0] != '.' && size > 5 && streq (name + size - 5, ".cert");
}

//  Adds every public key in dir/folder to roles as role. A key found in
//  both folders is only a gateway's: trust is never widened by a mistake.
static void
s_read_folder (zhashx_t *roles, const char *dir, const char *folder, gc_role_t role)
{
    char *path = zsys_sprintf ("%s/%s", dir, folder);
    DIR *handle = opendir (path);
    struct dirent *entry;
    while (handle && (entry = readdir (handle))) {
        if (!s_is_public_cert (entry->d_name))
            continue;
        char *file = zsys_sprintf ("%s/%s", path, entry->d_name);
        zcert_t *cert = zcert_load (file);
        if (!cert)
            gc_warn ("cannot read key file=%s", file);
        else
        if (zhashx_insert (roles, zcert_public_txt (cert), (void *) (uintptr_t) role) != 0)
            zhashx_update (roles, zcert_public_txt (cert), (void *) (uintptr_t) GC_ROLE_GATEWAY);
        zcert_destroy (&cert);
        zstr_free (&file);
    }
    if (handle)
        closedir (handle);
    zstr_free (&path);
}

static zhashx_t *
s_read (const char *dir)
{
    zhashx_t *roles = zhashx_new ();
    s_read_folder (roles, dir, GC_KEYS_GATEWAYS, GC_ROLE_GATEWAY);
    s_read_folder (roles, dir, GC_KEYS_ADMINS, GC_ROLE_ADMIN);
    return roles;
}

static size_t
s_count (zhashx_t *roles, gc_role_t role)
{
    size_t count = 0;
    for (void *each = zhashx_first (roles); each; each = zhashx_next (roles))
        count += (gc_role_t) (uintptr_t) each == role;
    return count;
}

gc_keyring_t *
gc_keyring_new (const char *dir)
{
    gc_keyring_t *self = gc_calloc (1, sizeof *self);
    self->dir = gc_strdup (dir);
    self->roles = s_read (dir);
    self->read_at = gc_clock_mono_us () / 1000;
    gc_info ("trusting keys folder=%s gateways=%zu admins=%zu", dir,
             s_count (self->roles, GC_ROLE_GATEWAY), s_count (self->roles, GC_ROLE_ADMIN));
    return self;
}

void
gc_keyring_destroy (gc_keyring_t **self_p)
{
    gc_keyring_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->roles);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

static gc_role_t
s_role (zhashx_t *roles, const char *key)
{
    return key? (gc_role_t) (uintptr_t) zhashx_lookup (roles, key): GC_ROLE_NONE;
}

gc_role_t
gc_keyring_role (gc_keyring_t *self, const char *key)
{
    return s_role (self->roles, key);
}

bool
gc_keyring_refresh (gc_keyring_t *self)
{
    zhashx_t *roles = s_read (self->dir);
    bool revoked = false;
    for (void *role = zhashx_first (self->roles); role; role = zhashx_next (self->roles)) {
        const char *key = zhashx_cursor (self->roles);
        if ((gc_role_t) (uintptr_t) role == GC_ROLE_GATEWAY && s_role (roles, key) != GC_ROLE_GATEWAY) {
            gc_info ("gateway key=%s revoked", key);
            revoked = true;
        }
    }
    zhashx_destroy (&self->roles);
    self->roles = roles;
    self->read_at = gc_clock_mono_us () / 1000;
    return revoked;
}

int64_t
gc_keyring_read_at (gc_keyring_t *self)
{
    return self->read_at;
}

//  --------------------------------------------------------------------------
//  Self test

void
gc_keyring_test (bool verbose)
{
    if (verbose)
        printf (" * gc_keyring: ");
    char dir [] = "/tmp/gc_keyring_test_XXXXXX";
    assert (mkdtemp (dir));
    FILE *out = fopen ("/dev/null", "w");
    assert (gc_keys_init (dir, out) == 0);
    assert (gc_keys_add (dir, "gateway", "edge", out) == 0);
    char *broker = zsys_sprintf ("%s/broker", dir);
    gc_keyring_t *self = gc_keyring_new (broker);
    char *gateway = zsys_sprintf ("%s/gateway", dir);
    char *edge = zsys_sprintf ("%s/gateway-edge", dir);
    char *admin = zsys_sprintf ("%s/admin", dir);
    gc_keys_t *gateway_keys = gc_keys_load (gateway, "gateway");
    gc_keys_t *edge_keys = gc_keys_load (edge, "gateway");
    gc_keys_t *admin_keys = gc_keys_load (admin, "admin");
    gc_keys_t *broker_keys = gc_keys_load (broker, "broker");
    assert (gc_keyring_role (self, gc_keys_public (gateway_keys)) == GC_ROLE_GATEWAY);
    assert (gc_keyring_role (self, gc_keys_public (edge_keys)) == GC_ROLE_GATEWAY);
    assert (gc_keyring_role (self, gc_keys_public (admin_keys)) == GC_ROLE_ADMIN);
    assert (gc_keyring_role (self, gc_keys_public (broker_keys)) == GC_ROLE_NONE);
    assert (gc_keyring_role (self, NULL) == GC_ROLE_NONE);
    //  Nothing changed: nothing revoked
    assert (!gc_keyring_refresh (self));
    //  An admin key copied into gateways/ is a gateway's only
    char *copy = zsys_sprintf ("%s/gateways/also-admin.cert", broker);
    char *source = zsys_sprintf ("%s/admins/admin.cert", broker);
    zcert_t *cert = zcert_load (source);
    assert (cert && zcert_save_public (cert, copy) == 0);
    zcert_destroy (&cert);
    assert (!gc_keyring_refresh (self));
    assert (gc_keyring_role (self, gc_keys_public (admin_keys)) == GC_ROLE_GATEWAY);
    //  Taken back out, it is a gateway's no more: its connections must go
    assert (unlink (copy) == 0);
    assert (gc_keyring_refresh (self));
    assert (gc_keyring_role (self, gc_keys_public (admin_keys)) == GC_ROLE_ADMIN);
    //  Revoking a gateway's key is taking its file away
    char *trusted = zsys_sprintf ("%s/gateways/edge.cert", broker);
    assert (unlink (trusted) == 0);
    assert (gc_keyring_refresh (self));
    assert (gc_keyring_role (self, gc_keys_public (edge_keys)) == GC_ROLE_NONE);
    assert (gc_keyring_role (self, gc_keys_public (gateway_keys)) == GC_ROLE_GATEWAY);
    assert (!gc_keyring_refresh (self));
    gc_keys_destroy (&gateway_keys);
    gc_keys_destroy (&edge_keys);
    gc_keys_destroy (&admin_keys);
    gc_keys_destroy (&broker_keys);
    gc_keyring_destroy (&self);
    gc_keyring_destroy (&self);
    fclose (out);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    zstr_free (&broker), zstr_free (&gateway), zstr_free (&edge), zstr_free (&admin);
    zstr_free (&copy), zstr_free (&source), zstr_free (&trusted);
    if (verbose)
        printf ("OK\n");
}
