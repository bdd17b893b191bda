/*  page.h: the browser client's files, and the headers every HTTP answer
    of the gateway carries.

    Every gateway serves the single-page client of web/ at GET / (its
    index.html; the other files at /NAME). The files are built into the
    program (scripts/web-files.sh makes the table below), so a gateway
    needs no file beside it and no request names a path on disk. Each
    file is answered with a strong ETag, its content's hash, and
    Cache-Control: no-cache: browsers keep a copy and ask whether it is
    still current, by an If-None-Match naming its ETag, answered 304
    without a body while it is.
    Every answer, whatever its path or status, carries the same security
    headers: a Content-Security-Policy that lets the page load scripts,
    styles and images of its own origin only and connect only back to it,
    nosniff, no referrer, and no framing. */
#ifndef GC_PAGE_H_INCLUDED
#define GC_PAGE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <libwebsockets.h>

//  One file of web/, as the build embeds it
typedef struct {
    const char *name;           //  its name in web/: "index.html"
    const char *type;           //  its Content-Type
    const unsigned char *data;  //  its bytes
    const unsigned char *end;   //  one past its last byte
} gc_web_file_t;

//  web/'s files, made at build time (web_files.c); a NULL name ends it
extern const gc_web_file_t gc_web_files [];

//  A quoted hash of 16 bytes in hex, and the NUL
#define GC_PAGE_ETAG_SIZE       35

//  A file as it is served
typedef struct {
    const char *name;           //  its name in web/, served at "/" + name
    const char *type;           //  its Content-Type
    const unsigned char *data;  //  its bytes
    size_t size;
    char etag [GC_PAGE_ETAG_SIZE];  //  a hash of its bytes, quoted
} gc_page_file_t;

typedef struct gc_page_t gc_page_t;

//  Serves files (gc_web_files, or a test's table): hashes each for its
//  ETag. NULL when libsodium cannot start.
gc_page_t *gc_page_new (const gc_web_file_t *files);
void gc_page_destroy (gc_page_t **self_p);

//  The file served at path (without its query: lws drops that), or NULL.
//  "/" is index.html.
const gc_page_file_t *gc_page_find (const gc_page_t *self, const char *path);

//  True when the request's If-None-Match names the file's ETag (or is
//  "*"): the browser's copy is current, and is answered 304.
bool gc_page_unchanged (const gc_page_file_t *file, struct lws *wsi);

//  Adds a header named by lws's token, its value a string; 0, or 1 when
//  it does not fit.
int gc_page_add_header (struct lws *wsi, enum lws_token_indexes token, const char *value,
                        unsigned char **at, unsigned char *end);

//  Adds the file's ETag and Cache-Control to an answer's headers; 0, or
//  1 when they do not fit.
int gc_page_add_file_headers (const gc_page_file_t *file, struct lws *wsi,
                              unsigned char **at, unsigned char *end);

//  The security headers, as the vhost's list (its `headers`): lws adds
//  them to every answer whose status line lws_add_http_header_status
//  writes, its own error answers included.
const struct lws_protocol_vhost_options *gc_page_headers (void);

//  The same headers added to an answer whose status line was written
//  without lws_add_http_header_status (gc_http_refuse); 0, or 1 when they
//  do not fit.
int gc_page_add_headers (struct lws *wsi, unsigned char **at, unsigned char *end);

void gc_page_test (bool verbose);

#endif
