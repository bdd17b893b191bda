/*  metrics.c: the gateway's figures in Prometheus text exposition format,
    served at GET /metrics, followed by the broker's own figures as the
    last heartbeat brought them. Counters are a table over gc_counters_t,
    so adding one is one line. */
#include <stddef.h>
#include "server.h"

static const struct {
    const char *name;
    const char *help;
    size_t offset;              //  of the uint64_t in gc_counters_t
} s_counters [] = {
#define COUNTER(name, help, member) { name, help, offsetof (gc_counters_t, member) }
    COUNTER ("groupchat_connections_total", "Client WebSocket connections accepted.", connections_opened),
    COUNTER ("groupchat_logins_ok_total", "Successful logins.", logins_ok),
    COUNTER ("groupchat_logins_failed_total", "Logins refused for bad credentials.", logins_failed),
    COUNTER ("groupchat_frames_in_total", "Client frames received.", frames_in),
    COUNTER ("groupchat_frames_out_total", "Client frames sent.", frames_out),
    COUNTER ("groupchat_writes_total", "Writes to client sockets; each carries one or more frames.", writes),
    COUNTER ("groupchat_messages_delivered_total", "Room messages pushed to connections.", messages_delivered),
    COUNTER ("groupchat_slow_readers_closed_total", "Connections closed for making no read progress.", slow_readers_closed),
    COUNTER ("groupchat_gaps_refilled_total", "Room gaps refilled from the broker's history.", gaps_refilled),
    COUNTER ("groupchat_catchups_total", "Lagging connections caught up from the broker's history.", catchups),
    COUNTER ("groupchat_unavailable_total", "Requests answered unavailable.", unavailable),
#undef COUNTER
};

void
gc_metrics_write (gc_gateway_t *gateway, FILE *stream)
{
    for (size_t index = 0; index < sizeof s_counters / sizeof s_counters [0]; index++) {
        const uint64_t *value = (const uint64_t *) ((const char *) &gateway->counters
                                                    + s_counters [index].offset);
        gc_metric_write (stream, s_counters [index].name, "counter",
                         s_counters [index].help, (double) *value);
    }
    gc_metric_write (stream, "groupchat_connections_open", "gauge",
                     "Open client WebSocket connections.", gateway->conns.count);
    gc_metric_write (stream, "groupchat_broker_reachable", "gauge",
                     "1 while the broker answers heartbeats.", gc_link_reachable (gateway->link));
    gc_metric_write (stream, "groupchat_rooms_active", "gauge",
                     "Rooms with members on this gateway.", zhashx_size (gateway->rooms));
    gc_room_write_members (gateway, stream);
    gc_histogram_write (gc_link_rtt (gateway->link), stream,
                        "groupchat_broker_round_trip_seconds",
                        "Time from a request to the broker until its reply.");
    const char *broker = gc_link_broker_metrics (gateway->link);
    if (broker)
        fputs (broker, stream);
}
