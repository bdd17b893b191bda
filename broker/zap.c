/*  zap.c: the broker's ZAP handler: a REP socket on ZeroMQ's fixed
    inproc endpoint, read by the broker's loop.

    A request is [version, request id, domain, address, routing id,
    mechanism, credentials...]; the reply [version, request id, status,
    text, user id, metadata]. Only CURVE is accepted, and only keys the
    keyring gives a role that the socket's domain admits. A key not
    known yet makes the keyring read its folders again (at most ten times
    a second, so a flood of strangers cannot keep the broker reading
    files), so a key just added is trusted at once. */
#include "zap.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_log.h"

#define S_ZAP_ENDPOINT      "inproc://zeromq.zap.01"
#define S_REREAD_MS         100

struct gc_zap_t {
    zsock_t *rep;               //  ZeroMQ's questions
    gc_keyring_t *keyring;      //  not ours
    uint64_t refused;
};

gc_zap_t *
gc_zap_new (gc_keyring_t *keyring)
{
    gc_zap_t *self = gc_calloc (1, sizeof *self);
    self->keyring = keyring;
    self->rep = zsock_new (ZMQ_REP);
    if (!self->rep || zsock_bind (self->rep, S_ZAP_ENDPOINT) != 0) {
        gc_error ("cannot take the ZAP endpoint (is another broker in this process?)");
        gc_zap_destroy (&self);
    }
    return self;
}

void
gc_zap_destroy (gc_zap_t **self_p)
{
    gc_zap_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->rep);
    free (self);
    *self_p = NULL;
}

zsock_t *
gc_zap_socket (gc_zap_t *self)
{
    return self->rep;
}

uint64_t
gc_zap_refused (gc_zap_t *self)
{
    return self->refused;
}

//  The role a domain admits
static gc_role_t
s_admits (const char *domain)
{
    if (streq (domain, GC_ZAP_REQUESTS))
        return GC_ROLE_GATEWAY | GC_ROLE_ADMIN;
    if (streq (domain, GC_ZAP_EVENTS))
        return GC_ROLE_GATEWAY;
    return GC_ROLE_NONE;
}

static gc_role_t
s_role (gc_zap_t *self, const char *key)
{
    gc_role_t role = gc_keyring_role (self->keyring, key);
    if (role == GC_ROLE_NONE
    &&  gc_clock_mono_us () / 1000 - gc_keyring_read_at (self->keyring) >= S_REREAD_MS) {
        gc_keyring_refresh (self->keyring);
        role = gc_keyring_role (self->keyring, key);
    }
    return role;
}

//  Whether the handshake may finish; fills key (Z85) from the credentials
static bool
s_accepts (gc_zap_t *self, const char *version, const char *domain, const char *mechanism,
           zframe_t *credentials, char *key)
{
    if (!version || !streq (version, "1.0") || !mechanism || !streq (mechanism, "CURVE")
    ||  !credentials || zframe_size (credentials) != 32 || !domain)
        return false;
    zmq_z85_encode (key, zframe_data (credentials), 32);
    return (s_role (self, key) & s_admits (domain)) != 0;
}

static void
s_answer_one (gc_zap_t *self, zmsg_t *request)
{
    char *version = zmsg_popstr (request);
    zframe_t *id = zmsg_pop (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    zframe_t *routing = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    char key [41] = "";
    bool accepted = s_accepts (self, version, domain, mechanism, credentials, key);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    if (id)
        zmsg_append (reply, &id);
    else
        zmsg_addmem (reply, NULL, 0);
    zmsg_addstr (reply, accepted? "200": "400");
    zmsg_addstr (reply, accepted? "OK": "not a trusted key for this socket");
    zmsg_addstr (reply, accepted? key: "");
    zmsg_addmem (reply, NULL, 0);
    zmsg_send (&reply, self->rep);
    if (!accepted) {
        self->refused++;
        gc_warn ("refused a handshake socket=%s address=%s key=%s", domain? domain: "?",
                 address? address: "?", *key? key: "none");
    }
    zstr_free (&version);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zframe_destroy (&routing);
    zframe_destroy (&credentials);
}

void
gc_zap_answer (gc_zap_t *self)
{
    while (zsock_events (self->rep) & ZMQ_POLLIN) {
        zmsg_t *request = zmsg_recv (self->rep);
        if (!request)
            break;
        s_answer_one (self, request);
        zmsg_destroy (&request);
    }
}
