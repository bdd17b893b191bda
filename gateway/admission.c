/*  admission.c: connections counted in all, per client address and per
    user logged in. */
#include <czmq.h>
#include "admission.h"
#include "page.h"
#include "gc_alloc.h"
#include "gc_limits.h"
#include "gc_log.h"

struct gc_admission_t {
    size_t total_max, per_address_max, per_user_max;
    const gc_proxies_t *proxies;    //  not ours
    size_t open;                //  connections held
    zhashx_t *by_address;       //  address -> count (as a pointer-sized integer)
    zhashx_t *by_user;          //  user -> connections logged in as them, alike
    uint64_t refused;
};

gc_admission_t *
gc_admission_new (size_t total, size_t per_address, size_t per_user,
                  const gc_proxies_t *proxies)
{
    gc_admission_t *self = gc_calloc (1, sizeof *self);
    self->total_max = total;
    self->per_address_max = per_address;
    self->per_user_max = per_user;
    self->proxies = proxies;
    self->by_address = gc_alloc_checked (zhashx_new ());
    self->by_user = gc_alloc_checked (zhashx_new ());
    return self;
}

void
gc_admission_destroy (gc_admission_t **self_p)
{
    gc_admission_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->by_address);
    zhashx_destroy (&self->by_user);
    free (self);
    *self_p = NULL;
}

static size_t
s_count (zhashx_t *counts, const char *key)
{
    return (size_t) (uintptr_t) zhashx_lookup (counts, key);
}

static void
s_count_up (zhashx_t *counts, const char *key)
{
    zhashx_update (counts, key, (void *) (uintptr_t) (s_count (counts, key) + 1));
}

//  A key counted down to nothing is forgotten, so that the table holds
//  only the addresses and users connected now
static void
s_count_down (zhashx_t *counts, const char *key)
{
    size_t count = s_count (counts, key);
    if (count > 1)
        zhashx_update (counts, key, (void *) (uintptr_t) (count - 1));
    else
        zhashx_delete (counts, key);
}

//  The status line written by us: lws_add_http_header_status would say
//  HTTP/1.0, as lws learns a request's version only after an upgrade is
//  confirmed. The rest by lws's helpers, the security headers with them
int
gc_http_refuse (struct lws *wsi, const char *status, const char *body)
{
    unsigned char response [LWS_PRE + GC_GATEWAY_HTTP_HEADERS];
    unsigned char *start = response + LWS_PRE, *at = start, *end = response + sizeof response - 1;
    size_t size = strlen (body);
    char line [64], length [24];
    snprintf (line, sizeof line, "HTTP/1.1 %s", status);
    snprintf (length, sizeof length, "%zu", size);
    if (lws_add_http_header_by_name (wsi, NULL, (const unsigned char *) line,
                                     (int) strlen (line), &at, end)
    ||  gc_page_add_header (wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, "text/plain; charset=utf-8",
                            &at, end)
    ||  gc_page_add_header (wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, length, &at, end)
    ||  gc_page_add_header (wsi, WSI_TOKEN_CONNECTION, "close", &at, end)
    ||  gc_page_add_headers (wsi, &at, end)
    ||  lws_finalize_http_header (wsi, &at, end)
    ||  (size_t) (end - at) < size)
        return -1;
    memcpy (at, body, size);
    at += size;
    return lws_write (wsi, start, (size_t) (at - start), LWS_WRITE_HTTP_HEADERS) < 0? -1: 1;
}

int
gc_admission_confirm_upgrade (gc_admission_t *self, struct lws *wsi)
{
    char address [GC_ADDRESS_MAX + 1] = "";
    gc_proxies_client_of (self->proxies, wsi, address, sizeof address);
    if (self->open >= self->total_max) {
        self->refused++;
        gc_warn ("refused an upgrade: the gateway holds connections=%zu address=%s",
                 self->open, address);
        return gc_http_refuse (wsi, "503 Service Unavailable",
                               "this gateway holds all the connections it may\n");
    }
    if (s_count (self->by_address, address) >= self->per_address_max) {
        self->refused++;
        gc_warn ("refused an upgrade: too many connections from address=%s (if that is a "
                 "proxy or load balancer, name it with --trusted-proxy)", address);
        return gc_http_refuse (wsi, "429 Too Many Requests",
                               "too many connections from your address\n");
    }
    return 0;
}

void
gc_admission_opened (gc_admission_t *self, const char *address)
{
    self->open++;
    s_count_up (self->by_address, address);
}

void
gc_admission_closed (gc_admission_t *self, const char *address)
{
    if (self->open)
        self->open--;
    s_count_down (self->by_address, address);
}

int
gc_admission_check_login (gc_admission_t *self, const char *user, const char *was,
                          char *why, size_t size)
{
    size_t held = s_count (self->by_user, user);
    if (was && streq (was, user))
        held--;                 //  its own place, which it keeps
    if (held < self->per_user_max)
        return 0;
    snprintf (why, size, "%s already has %zu connections to this gateway", user, held);
    return -1;
}

void
gc_admission_logged_in (gc_admission_t *self, const char *user)
{
    s_count_up (self->by_user, user);
}

void
gc_admission_logged_out (gc_admission_t *self, const char *user)
{
    s_count_down (self->by_user, user);
}

size_t
gc_admission_open (gc_admission_t *self)
{
    return self->open;
}

uint64_t
gc_admission_refused (gc_admission_t *self)
{
    return self->refused;
}

//  --------------------------------------------------------------------------
//  Self test: the counting; refusals are driven over real sockets in
//  tests/integration/test_limits.py

void
gc_admission_test (bool verbose)
{
    if (verbose)
        printf (" * gc_admission: ");
    gc_proxies_t *proxies = gc_proxies_new ();
    gc_admission_t *self = gc_admission_new (3, 2, 2, proxies);
    gc_admission_opened (self, "10.0.0.1");
    gc_admission_opened (self, "10.0.0.1");
    gc_admission_opened (self, "10.0.0.2");
    assert (gc_admission_open (self) == 3);
    assert (s_count (self->by_address, "10.0.0.1") == 2
        &&  s_count (self->by_address, "10.0.0.2") == 1);
    gc_admission_closed (self, "10.0.0.1");
    gc_admission_closed (self, "10.0.0.2");
    assert (gc_admission_open (self) == 1 && s_count (self->by_address, "10.0.0.2") == 0);
    assert (zhashx_size (self->by_address) == 1);
    gc_admission_closed (self, "10.0.0.1");
    assert (gc_admission_open (self) == 0 && zhashx_size (self->by_address) == 0);

    //  Two logins of Sue; a third is refused, a login again as Sue on one
    //  of hers is not, and a logout makes room
    char why [GC_NAME_MAX + 64];
    gc_admission_logged_in (self, "Sue");
    gc_admission_logged_in (self, "Sue");
    assert (gc_admission_check_login (self, "Sue", NULL, why, sizeof why) == -1);
    assert (streq (why, "Sue already has 2 connections to this gateway"));
    assert (gc_admission_check_login (self, "Sue", "Alex", why, sizeof why) == -1);
    assert (gc_admission_check_login (self, "Sue", "Sue", why, sizeof why) == 0);
    assert (gc_admission_check_login (self, "Alex", NULL, why, sizeof why) == 0);
    gc_admission_logged_out (self, "Sue");
    assert (gc_admission_check_login (self, "Sue", NULL, why, sizeof why) == 0);
    gc_admission_logged_out (self, "Sue");
    assert (zhashx_size (self->by_user) == 0);
    gc_admission_destroy (&self);
    gc_admission_destroy (&self);
    gc_proxies_destroy (&proxies);
    if (verbose)
        printf ("OK\n");
}
