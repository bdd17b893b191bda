/*  origin.c: the --allow-origin list and the check at each upgrade.

    Origins are compared whole, as the browser sends them: "https://Chat.
    example.com" matches "https://chat.example.com", but not
    "https://chat.example.com:443" nor a page served on another port.
    Normalising default ports would guess at what the operator meant;
    the documentation says to list each origin as browsers write it.
    The gateway's own page is let in whatever the list: its origin names
    the host and port the upgrade is sent to, the Host header. There the
    scheme is left out, as a proxy that ends TLS in front of the gateway
    turns the page's https:// into a plain upgrade. */
#include <assert.h>
#include <ctype.h>
#include <string.h>
#include "origin.h"
#include "admission.h"
#include "gc_alloc.h"
#include "gc_limits.h"
#include "gc_log.h"

struct gc_origins_t {
    char **items;               //  the allowed origins, as given
    size_t count;
};

gc_origins_t *
gc_origins_new (void)
{
    return gc_calloc (1, sizeof (gc_origins_t));
}

void
gc_origins_destroy (gc_origins_t **self_p)
{
    gc_origins_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->count; index++)
        free (self->items [index]);
    free (self->items);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  What an origin looks like (RFC 6454: scheme "://" host [ ":" port ])

static bool
s_one_of (char c, const char *set)
{
    return c && strchr (set, c);
}

//  Past the scheme and its "://"; NULL when there is none
static const char *
s_skip_scheme (const char *at)
{
    if (!isalpha ((unsigned char) *at))
        return NULL;
    while (isalnum ((unsigned char) *at) || s_one_of (*at, "+-."))
        at++;
    return strncmp (at, "://", 3) == 0? at + 3: NULL;
}

//  Past the host: a name, an IPv4 address or a bracketed IPv6 one;
//  NULL when there is none
static const char *
s_skip_host (const char *at)
{
    const char *host = at;
    if (*at == '[') {
        while (isxdigit ((unsigned char) *++at) || s_one_of (*at, ":."))
            ;
        return *at == ']' && at > host + 1? at + 1: NULL;
    }
    while (isalnum ((unsigned char) *at) || s_one_of (*at, "-._~%"))
        at++;
    return at > host? at: NULL;
}

//  True when text is exactly scheme://host[:port]
static bool
s_valid (const char *text)
{
    const char *at = s_skip_scheme (text);
    at = at? s_skip_host (at): NULL;
    if (at && *at == ':') {
        const char *port = ++at;
        while (isdigit ((unsigned char) *at))
            at++;
        if (at == port || at - port > 5)
            return false;
    }
    return at && *at == 0;
}

//  text without the spaces and tabs around it, in a new string
static char *
s_trimmed (const char *text, size_t size)
{
    while (size && s_one_of (*text, " \t"))
        text++, size--;
    while (size && s_one_of (text [size - 1], " \t"))
        size--;
    return gc_strndup (text, size);
}

//  --------------------------------------------------------------------------
//  The list

const char *
gc_origins_add (gc_origins_t *self, const char *text)
{
    static char why [GC_ORIGIN_MAX + 80];
    size_t first = self->count;
    for (const char *at = text, *comma; at; at = comma? comma + 1: NULL) {
        comma = strchr (at, ',');
        char *origin = s_trimmed (at, comma? (size_t) (comma - at): strlen (at));
        self->items = gc_realloc (self->items, (self->count + 1) * sizeof *self->items);
        self->items [self->count++] = origin;
        if (!s_valid (origin)) {
            snprintf (why, sizeof why, "--allow-origin wants scheme://host[:port], "
                      "as a browser sends it, not \"%.*s\"", GC_ORIGIN_MAX, origin);
            while (self->count > first)
                free (self->items [--self->count]);
            return why;
        }
    }
    return NULL;
}

size_t
gc_origins_count (const gc_origins_t *self)
{
    return self->count;
}

bool
gc_origins_allows (const gc_origins_t *self, const char *origin)
{
    if (self->count == 0)
        return true;
    for (size_t index = 0; index < self->count; index++)
        if (strcasecmp (self->items [index], origin) == 0)
            return true;
    return false;
}

bool
gc_origins_same_host (const char *origin, const char *host)
{
    const char *authority = s_valid (origin)? s_skip_scheme (origin): NULL;
    return authority && strcasecmp (authority, host) == 0;
}

int
gc_origins_confirm_upgrade (const gc_origins_t *self, struct lws *wsi)
{
    if (self->count == 0 || lws_hdr_total_length (wsi, WSI_TOKEN_ORIGIN) <= 0)
        return 0;               //  no list, or not a browser
    char origin [GC_ORIGIN_MAX + 1] = "", host [GC_ORIGIN_MAX + 1] = "";
    bool whole = lws_hdr_copy (wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0;
    bool own = whole && lws_hdr_copy (wsi, host, sizeof host, WSI_TOKEN_HOST) > 0
            && gc_origins_same_host (origin, host);
    if (own || (whole && gc_origins_allows (self, origin)))
        return 0;
    gc_info ("refused an upgrade origin=%s", whole? origin: "(too long)");
    return gc_http_refuse (wsi, "403 Forbidden", "origin not allowed\n");
}

//  --------------------------------------------------------------------------
//  Self test

void
gc_origins_test (bool verbose)
{
    printf (" * gc_origins: ");
    gc_origins_t *origins = gc_origins_new ();
    //  No list: everyone
    assert (gc_origins_count (origins) == 0);
    assert (gc_origins_allows (origins, "https://anywhere.example"));

    //  Comma-separated, spaces dropped; each compared whole, case aside
    assert (!gc_origins_add (origins, "https://chat.example.com, http://localhost:8080"));
    assert (!gc_origins_add (origins, "http://[::1]:3000"));
    assert (gc_origins_count (origins) == 3);
    assert (gc_origins_allows (origins, "https://chat.example.com"));
    assert (gc_origins_allows (origins, "HTTPS://Chat.Example.COM"));
    assert (gc_origins_allows (origins, "http://localhost:8080"));
    assert (gc_origins_allows (origins, "http://[::1]:3000"));
    assert (!gc_origins_allows (origins, "https://chat.example.com:443"));
    assert (!gc_origins_allows (origins, "http://chat.example.com"));
    assert (!gc_origins_allows (origins, "https://chat.example.com.evil.example"));
    assert (!gc_origins_allows (origins, "http://localhost:80800"));
    assert (!gc_origins_allows (origins, "null"));
    assert (!gc_origins_allows (origins, ""));

    //  What is not an origin is refused, and nothing of its list is kept
    const char *wrong [] = {
        "chat.example.com", "https://", "https://chat.example.com/", "https://a.example:",
        "https://a.example:123456", "https://user@a.example", "https://a.example/path",
        "1http://a.example", "http://[::1", "http://[]", "https://a.example,", "",
        "https://ok.example, no scheme"
    };
    for (size_t index = 0; index < sizeof wrong / sizeof wrong [0]; index++) {
        const char *why = gc_origins_add (origins, wrong [index]);
        assert (why && strstr (why, "scheme://host[:port]"));
    }
    assert (gc_origins_count (origins) == 3);
    assert (!gc_origins_allows (origins, "https://ok.example"));

    //  The gateway's own page: the Host it was sent to, any scheme
    assert (gc_origins_same_host ("http://chat.example.com", "chat.example.com"));
    assert (gc_origins_same_host ("https://chat.example.com:8443", "Chat.Example.com:8443"));
    assert (gc_origins_same_host ("HTTP://127.0.0.1:8080", "127.0.0.1:8080"));
    assert (gc_origins_same_host ("http://[::1]:8080", "[::1]:8080"));
    assert (!gc_origins_same_host ("https://chat.example.com", "chat.example.com:443"));
    assert (!gc_origins_same_host ("http://127.0.0.1:8080", "127.0.0.1:8081"));
    assert (!gc_origins_same_host ("http://localhost:8080", "127.0.0.1:8080"));
    assert (!gc_origins_same_host ("https://chat.example.com.evil.example", "chat.example.com"));
    assert (!gc_origins_same_host ("https://evil.example", "evil.example.chat.example.com"));
    assert (!gc_origins_same_host ("https://chat.example.com/", "chat.example.com/"));
    assert (!gc_origins_same_host ("https://user@chat.example.com", "user@chat.example.com"));
    assert (!gc_origins_same_host ("null", "null"));
    assert (!gc_origins_same_host ("chat.example.com", "chat.example.com"));
    assert (!gc_origins_same_host ("https://chat.example.com", ""));
    assert (!gc_origins_same_host ("", ""));
    gc_origins_destroy (&origins);
    gc_origins_destroy (&origins);
    assert (origins == NULL);
    if (verbose)
        printf ("(no list, whole-origin matches, case, refused forms, own host) ");
    printf ("OK\n");
}
