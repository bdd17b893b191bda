/*  wsconn.h: the client's WebSocket connection to a gateway.

    One libwebsockets client connection that comes back by itself: when it
    drops, the next of the given URLs is tried; an attempt that fails goes
    on to the next URL at once, and once all failed the next round waits
    (250 ms doubling to 30 s, from 250 ms again after a success). Frames are JSON objects: sent with
    gc_wsconn_send, received whole (however lws splits them) and handed
    on as the text that came, for the session to read.

    wss:// URLs are verified: the server's certificate must chain to the
    system's CAs, or to those of one CA file when given, and name the
    host of the URL. A server whose certificate is refused is not tried
    again: that is an attack or a mistake, neither of which time mends.
    No Origin header is sent: this is not a web page. */
#ifndef GC_WSCONN_H_INCLUDED
#define GC_WSCONN_H_INCLUDED

#include <stdbool.h>
#include <jansson.h>
#include <libwebsockets.h>

typedef struct gc_wsconn_t gc_wsconn_t;

typedef struct {
    void (*opened) (void *arg, const char *url);
    void (*received) (void *arg, const char *data, size_t size);    //  one whole frame
    void (*closed) (void *arg, const char *why);    //  was open; a retry follows
    //  An attempt on url failed for why: next is tried at once, or when
    //  next is NULL (every URL failed), the first again after delay_ms.
    //  The callee may call gc_wsconn_stop to give up.
    void (*unreachable) (void *arg, const char *url, const char *why, const char *next,
                         unsigned delay_ms);
    //  The server's certificate was refused, why as OpenSSL said it (or
    //  NULL); no retry follows
    void (*untrusted) (void *arg, const char *url, const char *why);
    void *arg;
} gc_wsconn_events_t;

//  Protocol table entry the context must list (name "gc-client").
extern const struct lws_protocols gc_wsconn_protocol;

//  A client lws context serving gc_wsconn_protocol and, when not NULL,
//  one more protocol (e.g. for stdin adopted as a raw file). wss://
//  servers are verified against the CAs of ca_file (PEM) when not NULL,
//  else against the system's.
struct lws_context *gc_wsconn_context_new (const struct lws_protocols *extra,
                                           const char *ca_file);

//  Creates the connection and starts connecting to urls [0].
gc_wsconn_t *gc_wsconn_new (struct lws_context *context, char **urls, int url_count,
                            const gc_wsconn_events_t *events);
void gc_wsconn_destroy (gc_wsconn_t **self_p);

//  Stops coming back: once the connection ends it is not tried again
//  until gc_wsconn_start (the server ended the session, and a login with
//  its token would be refused). Its end is not reported as a loss.
void gc_wsconn_stop (gc_wsconn_t *self);
//  Comes back again after gc_wsconn_stop: connects now if not connected.
void gc_wsconn_start (gc_wsconn_t *self);

//  Queues a frame (the object is encoded now); 0, or -1 when not connected.
int gc_wsconn_send (gc_wsconn_t *self, json_t *frame);

bool gc_wsconn_is_open (gc_wsconn_t *self);

//  The longest wait between rounds of attempts
#define GC_WSCONN_BACKOFF_MAX_MS 30000

//  The delay before round n (0, 1, ...) in ms
unsigned gc_wsconn_backoff_ms (unsigned attempt);

void gc_wsconn_test (bool verbose);

#endif
