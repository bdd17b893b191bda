/*  proxies.c: trusted proxy networks, and the client address behind them. */
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proxies.h"
#include "gc_alloc.h"

typedef struct {
    int family;                 //  AF_INET or AF_INET6
    unsigned char bytes [16];   //  the network's address
    int prefix;                 //  bits that must match
} s_network_t;

struct gc_proxies_t {
    s_network_t *items;
    size_t count;
};

gc_proxies_t *
gc_proxies_new (void)
{
    return gc_calloc (1, sizeof (gc_proxies_t));
}

void
gc_proxies_destroy (gc_proxies_t **self_p)
{
    gc_proxies_t *self = *self_p;
    if (!self)
        return;
    free (self->items);
    free (self);
    *self_p = NULL;
}

//  An address in text to family and bytes; false when it is none.
//  "::ffff:10.0.0.7", as a dual-stack socket shows an IPv4 peer, is IPv4.
static bool
s_parse_address (const char *text, int *family, unsigned char *bytes)
{
    if (inet_pton (AF_INET, text, bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton (AF_INET6, text, bytes) != 1)
        return false;
    static const unsigned char mapped [12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
    *family = AF_INET6;
    if (memcmp (bytes, mapped, sizeof mapped) == 0) {
        memmove (bytes, bytes + 12, 4);
        *family = AF_INET;
    }
    return true;
}

//  "address" or "address/prefix", spaces around dropped
static bool
s_parse_network (const char *text, size_t size, s_network_t *network)
{
    char copy [INET6_ADDRSTRLEN + 8];
    while (size && *text == ' ')
        text++, size--;
    while (size && text [size - 1] == ' ')
        size--;
    if (size == 0 || size >= sizeof copy)
        return false;
    memcpy (copy, text, size);
    copy [size] = 0;
    char *slash = strchr (copy, '/');
    if (slash)
        *slash = 0;
    if (!s_parse_address (copy, &network->family, network->bytes))
        return false;
    int bits = network->family == AF_INET? 32: 128;
    network->prefix = bits;
    if (slash) {
        char *end;
        long prefix = strtol (slash + 1, &end, 10);
        if (!slash [1] || *end || prefix < 0 || prefix > bits)
            return false;
        network->prefix = (int) prefix;
    }
    return true;
}

const char *
gc_proxies_add (gc_proxies_t *self, const char *text)
{
    static char why [160];
    size_t first = self->count;
    for (const char *at = text, *comma; at; at = comma? comma + 1: NULL) {
        comma = strchr (at, ',');
        size_t size = comma? (size_t) (comma - at): strlen (at);
        s_network_t network;
        if (!s_parse_network (at, size, &network)) {
            snprintf (why, sizeof why, "--trusted-proxy wants an address or a network "
                      "(10.0.0.7, 172.16.0.0/12, fd00::/8), not \"%.*s\"",
                      (int) (size < 60? size: 60), at);
            self->count = first;
            return why;
        }
        self->items = gc_realloc (self->items, (self->count + 1) * sizeof *self->items);
        self->items [self->count++] = network;
    }
    return NULL;
}

size_t
gc_proxies_count (const gc_proxies_t *self)
{
    return self->count;
}

static bool
s_in (const s_network_t *network, int family, const unsigned char *bytes)
{
    if (network->family != family)
        return false;
    int whole = network->prefix / 8, rest = network->prefix % 8;
    if (memcmp (network->bytes, bytes, (size_t) whole) != 0)
        return false;
    unsigned char mask = (unsigned char) (0xff << (8 - rest));
    return rest == 0 || (network->bytes [whole] & mask) == (bytes [whole] & mask);
}

bool
gc_proxies_trusts (const gc_proxies_t *self, const char *address)
{
    int family;
    unsigned char bytes [16];
    if (!s_parse_address (address, &family, bytes))
        return false;
    for (size_t index = 0; index < self->count; index++)
        if (s_in (&self->items [index], family, bytes))
            return true;
    return false;
}

//  The last comma-separated entry of text [0, *end), trimmed; moves *end
//  before it. False when there is none left.
static bool
s_last_entry (const char *text, size_t *end, char *entry, size_t size)
{
    if (*end == 0)
        return false;
    size_t stop = *end, start = stop;
    while (start > 0 && text [start - 1] != ',')
        start--;
    *end = start? start - 1: 0;
    while (start < stop && text [start] == ' ')
        start++;
    while (stop > start && text [stop - 1] == ' ')
        stop--;
    snprintf (entry, size, "%.*s", (int) (stop - start), text + start);
    return true;
}

void
gc_proxies_client (const gc_proxies_t *self, const char *peer, const char *forwarded,
                   char *address, size_t size)
{
    snprintf (address, size, "%s", peer);
    size_t end = forwarded? strlen (forwarded): 0;
    char entry [INET6_ADDRSTRLEN + 1];
    //  Each trusted hop vouches for the one before it, and no further
    while (gc_proxies_trusts (self, address) && s_last_entry (forwarded, &end, entry, sizeof entry)) {
        int family;
        unsigned char bytes [16];
        if (!s_parse_address (entry, &family, bytes))
            break;              //  garbage from before the trusted hops: keep the hop
        snprintf (address, size, "%s", entry);
    }
}

void
gc_proxies_client_of (const gc_proxies_t *self, struct lws *wsi, char *address, size_t size)
{
    char peer [INET6_ADDRSTRLEN + 1] = "";
    lws_get_peer_simple (wsi, peer, sizeof peer);
    char forwarded [512] = "";
    bool has = self->count
            && lws_hdr_copy (wsi, forwarded, sizeof forwarded, WSI_TOKEN_X_FORWARDED_FOR) > 0;
    gc_proxies_client (self, peer, has? forwarded: NULL, address, size);
}

//  --------------------------------------------------------------------------
//  Self test

static void
s_test_client (const gc_proxies_t *self, const char *peer, const char *forwarded,
               const char *expected)
{
    char address [INET6_ADDRSTRLEN + 1];
    gc_proxies_client (self, peer, forwarded, address, sizeof address);
    assert (strcmp (address, expected) == 0);
}

void
gc_proxies_test (bool verbose)
{
    if (verbose)
        printf (" * gc_proxies: ");
    gc_proxies_t *self = gc_proxies_new ();
    //  No proxy trusted: the header is the client's own words, ignored
    s_test_client (self, "10.0.0.9", "1.2.3.4", "10.0.0.9");
    assert (!gc_proxies_add (self, "172.16.0.0/12, 10.0.0.7,fd00::/8"));
    assert (gc_proxies_count (self) == 3);
    assert (gc_proxies_trusts (self, "172.18.0.3") && !gc_proxies_trusts (self, "172.32.0.1"));
    assert (gc_proxies_trusts (self, "10.0.0.7") && !gc_proxies_trusts (self, "10.0.0.8"));
    assert (gc_proxies_trusts (self, "::ffff:10.0.0.7"));
    assert (gc_proxies_trusts (self, "fd12::1") && !gc_proxies_trusts (self, "fe80::1"));
    assert (!gc_proxies_trusts (self, "not an address"));
    //  A trusted proxy vouches for the next hop from the right; a
    //  client's own entries further left are not believed
    s_test_client (self, "172.18.0.3", "203.0.113.5", "203.0.113.5");
    s_test_client (self, "172.18.0.3", "6.6.6.6, 203.0.113.5", "203.0.113.5");
    s_test_client (self, "172.18.0.3", "203.0.113.5, 10.0.0.7", "203.0.113.5");
    s_test_client (self, "172.18.0.3", NULL, "172.18.0.3");
    s_test_client (self, "172.18.0.3", "garbage", "172.18.0.3");
    s_test_client (self, "198.51.100.1", "203.0.113.5", "198.51.100.1");
    //  What is not an address or network is refused, and nothing of its list kept
    const char *wrong [] = { "10.0.0.0/33", "fd00::/129", "host.example", "10.0.0.0/",
                             "10.0.0.0/x", "", " , 10.0.0.1" };
    for (size_t index = 0; index < sizeof wrong / sizeof wrong [0]; index++) {
        assert (gc_proxies_add (self, wrong [index]));
        assert (gc_proxies_count (self) == 3);
    }
    gc_proxies_destroy (&self);
    gc_proxies_destroy (&self);
    if (verbose)
        printf ("OK\n");
}
