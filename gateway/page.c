/*  page.c: the browser client's files, and the headers every HTTP answer
    of the gateway carries.

    The files come from the table the build makes of web/ (page.h); each
    gets its ETag here, once, from a BLAKE2b hash of its bytes, so that
    every gateway running the same build names a file alike and a browser
    that was sent it by one keeps its copy on another. */
#include <assert.h>
#include <sodium.h>
#include <string.h>
#include "page.h"
#include "gc_alloc.h"
#include "gc_limits.h"

struct gc_page_t {
    gc_page_file_t *files;      //  as served, in the table's order
    size_t count;
};

//  What the page may do, as the browser enforces it: scripts, styles and
//  images of its own origin only (images also as data: URLs), no plugins
//  nor fonts nor anything else (default-src), connections back to its
//  own origin only (CSP3's 'self' takes in ws: and wss: to the same host
//  and port), no <base> to move its URLs, no form sent anywhere, and no
//  other page framing it (X-Frame-Options says so to older browsers)
#define S_POLICY    "default-src 'none'; script-src 'self'; style-src 'self'; " \
                    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; " \
                    "form-action 'none'; frame-ancestors 'none'"

//  A linked list, as lws wants it; it starts at its last entry. nosniff:
//  a file is only what its Content-Type says (a script must come as a
//  script); no-referrer: other sites learn nothing of the chat's URLs
static const struct lws_protocol_vhost_options s_headers [] = {
    { NULL, NULL, "x-frame-options:", "DENY" },
    { &s_headers [0], NULL, "referrer-policy:", "no-referrer" },
    { &s_headers [1], NULL, "x-content-type-options:", "nosniff" },
    { &s_headers [2], NULL, "content-security-policy:", S_POLICY },
};
#define S_HEADERS   (&s_headers [sizeof s_headers / sizeof s_headers [0] - 1])

//  The file as served: its ETag the hash of its bytes, quoted
static void
s_file_init (gc_page_file_t *self, const gc_web_file_t *file)
{
    self->name = file->name;
    self->type = file->type;
    self->data = file->data;
    self->size = (size_t) (file->end - file->data);
    unsigned char hash [16];
    crypto_generichash (hash, sizeof hash, self->data, self->size, NULL, 0);
    self->etag [0] = '"';
    sodium_bin2hex (self->etag + 1, 2 * sizeof hash + 1, hash, sizeof hash);
    strcat (self->etag, "\"");
}

gc_page_t *
gc_page_new (const gc_web_file_t *files)
{
    if (sodium_init () < 0)
        return NULL;
    gc_page_t *self = gc_calloc (1, sizeof *self);
    while (files [self->count].name)
        self->count++;
    self->files = gc_calloc (self->count + 1, sizeof *self->files);
    for (size_t index = 0; index < self->count; index++)
        s_file_init (&self->files [index], &files [index]);
    return self;
}

void
gc_page_destroy (gc_page_t **self_p)
{
    gc_page_t *self = *self_p;
    if (!self)
        return;
    free (self->files);
    free (self);
    *self_p = NULL;
}

const gc_page_file_t *
gc_page_find (const gc_page_t *self, const char *path)
{
    if (*path != '/')
        return NULL;
    const char *name = path [1]? path + 1: "index.html";
    for (size_t index = 0; index < self->count; index++)
        if (strcmp (self->files [index].name, name) == 0)
            return &self->files [index];
    return NULL;
}

//  True when an If-None-Match value (entity tags, comma-separated) names
//  etag, or is "*". RFC 9110 compares them weakly here: a W/ in front
//  does not matter
static bool
s_names (const char *list, const char *etag)
{
    size_t size = strlen (etag);
    for (const char *at = list, *comma; at; at = comma? comma + 1: NULL) {
        at += strspn (at, " \t");
        if (strncmp (at, "W/", 2) == 0)
            at += 2;
        size_t length = strcspn (at, ", \t");
        if ((length == 1 && *at == '*') || (length == size && memcmp (at, etag, size) == 0))
            return true;
        comma = strchr (at, ',');
    }
    return false;
}

bool
gc_page_unchanged (const gc_page_file_t *file, struct lws *wsi)
{
    char list [GC_GATEWAY_IF_NONE_MATCH + 1];
    if (lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH) <= 0
    ||  lws_hdr_copy (wsi, list, sizeof list, WSI_TOKEN_HTTP_IF_NONE_MATCH) <= 0)
        return false;           //  none, or too long to be a browser's: sent whole
    return s_names (list, file->etag);
}

int
gc_page_add_header (struct lws *wsi, enum lws_token_indexes token, const char *value,
                    unsigned char **at, unsigned char *end)
{
    return lws_add_http_header_by_token (wsi, token, (const unsigned char *) value,
                                         (int) strlen (value), at, end);
}

int
gc_page_add_file_headers (const gc_page_file_t *file, struct lws *wsi,
                          unsigned char **at, unsigned char *end)
{
    //  no-cache: kept, but asked about before each use, so that a new
    //  build's files are taken at the next load
    return gc_page_add_header (wsi, WSI_TOKEN_HTTP_ETAG, file->etag, at, end)
        || gc_page_add_header (wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, "no-cache", at, end);
}

const struct lws_protocol_vhost_options *
gc_page_headers (void)
{
    return S_HEADERS;
}

int
gc_page_add_headers (struct lws *wsi, unsigned char **at, unsigned char *end)
{
    for (const struct lws_protocol_vhost_options *header = S_HEADERS; header;
         header = header->next)
        if (lws_add_http_header_by_name (wsi, (const unsigned char *) header->name,
                                         (const unsigned char *) header->value,
                                         (int) strlen (header->value), at, end))
            return 1;
    return 0;
}

//  --------------------------------------------------------------------------
//  Self test: the files, their ETags and what matches them; the answers
//  themselves are driven over HTTP in tests/integration/test_web_page.py

static void
s_test_etags (const gc_page_t *page)
{
    const gc_page_file_t *index = gc_page_find (page, "/");
    const char *etag = index->etag;
    assert (strlen (etag) == GC_PAGE_ETAG_SIZE - 1 && etag [0] == '"' && etag [33] == '"');
    assert (strspn (etag + 1, "0123456789abcdef") == 32);
    assert (strcmp (etag, gc_page_find (page, "/app.js")->etag) != 0);

    //  Whole tags only, weak or strong, in a list or alone
    char list [200];
    assert (s_names (etag, etag));
    snprintf (list, sizeof list, "W/%s", etag);
    assert (s_names (list, etag));
    snprintf (list, sizeof list, "\"0123\", %s ,\"4567\"", etag);
    assert (s_names (list, etag));
    snprintf (list, sizeof list, "\"0123\",%s", etag);
    assert (s_names (list, etag));
    assert (s_names ("*", etag) && s_names (" * ", etag));
    snprintf (list, sizeof list, "%.*s", 33, etag);
    assert (!s_names (list, etag));                     //  cut short
    snprintf (list, sizeof list, "%sx", etag);
    assert (!s_names (list, etag));
    snprintf (list, sizeof list, "%.32s", etag + 1);
    assert (!s_names (list, etag));                     //  without its quotes
    assert (!s_names ("", etag) && !s_names (",", etag) && !s_names ("\"0123\"", etag));
    assert (!s_names ("**", etag));
}

//  What web/ holds when built: index.html at /, every file with a type,
//  and the headers within their buffer with room for a file's own
static void
s_test_built (void)
{
    gc_page_t *page = gc_page_new (gc_web_files);
    assert (page);
    const gc_page_file_t *index = gc_page_find (page, "/");
    assert (index && strcmp (index->name, "index.html") == 0);
    assert (strcmp (index->type, "text/html; charset=utf-8") == 0);
    for (size_t at = 0; at < page->count; at++)
        assert (page->files [at].type && *page->files [at].type);
    gc_page_destroy (&page);
    size_t size = 0;
    for (const struct lws_protocol_vhost_options *header = S_HEADERS; header;
         header = header->next)
        size += strlen (header->name) + strlen (header->value) + 3;
    assert (size + 256 + 2 * GC_PAGE_ETAG_SIZE < GC_GATEWAY_HTTP_HEADERS);
}

void
gc_page_test (bool verbose)
{
    printf (" * gc_page: ");
    static const unsigned char html [] = "<!doctype html>\n";
    static const unsigned char script [] = "\"use strict\";\n";
    const gc_web_file_t files [] = {
        { "index.html", "text/html; charset=utf-8", html, html + sizeof html - 1 },
        { "app.js", "text/javascript; charset=utf-8", script, script + sizeof script - 1 },
        { "empty.css", "text/css; charset=utf-8", script, script },
        { NULL, NULL, NULL, NULL }
    };
    gc_page_t *page = gc_page_new (files);

    //  index.html at / and by its name; the others by theirs, nothing else
    const gc_page_file_t *index = gc_page_find (page, "/");
    assert (index && index == gc_page_find (page, "/index.html"));
    assert (index->data == html && index->size == sizeof html - 1);
    const gc_page_file_t *app = gc_page_find (page, "/app.js");
    assert (app && strcmp (app->type, "text/javascript; charset=utf-8") == 0);
    assert (gc_page_find (page, "/empty.css")->size == 0);
    const char *absent [] = {
        "/nothing.html", "app.js", "", "//", "/index.html/", "/../index.html", "/APP.JS",
        "/app.js ", "/web/app.js"
    };
    for (size_t at = 0; at < sizeof absent / sizeof absent [0]; at++)
        assert (!gc_page_find (page, absent [at]));

    //  The same bytes get the same ETag in another gateway
    s_test_etags (page);
    gc_page_t *again = gc_page_new (files);
    assert (strcmp (gc_page_find (again, "/")->etag, index->etag) == 0);
    gc_page_destroy (&again);
    gc_page_destroy (&page);
    gc_page_destroy (&page);
    assert (page == NULL);
    s_test_built ();
    if (verbose)
        printf ("(paths, ETags and If-None-Match, web/ as built, header room) ");
    printf ("OK\n");
}
