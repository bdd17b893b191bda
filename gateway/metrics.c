/*  metrics.c: the gateway's figures in Prometheus text exposition format,
    served at GET /metrics, followed by the broker's own figures as the
    last heartbeat brought them. Counters are a table over gc_counter_t,
    so adding one is one line. */
#include "server.h"
#include "room.h"

static const struct {
    const char *name;
    const char *help;
    gc_counter_t counter;
} s_counters [] = {
    { "groupchat_connections_total", "Client WebSocket connections accepted.", GC_COUNTER_CONNECTIONS_OPENED },
    { "groupchat_logins_ok_total", "Successful logins.", GC_COUNTER_LOGINS_OK },
    { "groupchat_logins_failed_total", "Logins refused for bad credentials.", GC_COUNTER_LOGINS_FAILED },
    { "groupchat_frames_in_total", "Client frames received.", GC_COUNTER_FRAMES_IN },
    { "groupchat_frames_out_total", "Client frames sent.", GC_COUNTER_FRAMES_OUT },
    { "groupchat_writes_total", "Writes to client sockets; each carries one or more frames.", GC_COUNTER_WRITES },
    { "groupchat_messages_delivered_total", "Room messages pushed to connections.", GC_COUNTER_MESSAGES_DELIVERED },
    { "groupchat_slow_readers_closed_total", "Connections closed for making no read progress.", GC_COUNTER_SLOW_READERS_CLOSED },
    { "groupchat_gaps_refilled_total", "Room gaps refilled from the broker's history.", GC_COUNTER_GAPS_REFILLED },
    { "groupchat_catchups_total", "Lagging connections caught up from the broker's history.", GC_COUNTER_CATCHUPS },
    { "groupchat_unavailable_total", "Requests answered unavailable.", GC_COUNTER_UNAVAILABLE },
    { "groupchat_user_connections_refused_total", "Logins refused: the user held all the connections to this gateway they may (--max-connections-per-user).", GC_COUNTER_USER_LOGINS_REFUSED },
    { "groupchat_room_joins_refused_total", "Joins refused: the connection was in all the rooms it may be in (--max-rooms-per-connection).", GC_COUNTER_JOINS_REFUSED },
};

void
gc_metrics_write (const gc_gateway_parts_t *parts, FILE *stream)
{
    const gc_counters_t *counters = &parts->counters;
    for (size_t index = 0; index < sizeof s_counters / sizeof s_counters [0]; index++)
        gc_metric_write (stream, s_counters [index].name, "counter", s_counters [index].help,
                         (double) gc_counters_get (counters, s_counters [index].counter));
    gc_link_t *link = parts->link;
    gc_rooms_t *rooms = parts->rooms;
    gc_metric_write (stream, "groupchat_connections_open", "gauge",
                     "Open client WebSocket connections.", parts->conns.count);
    gc_metric_write (stream, "groupchat_connections_refused_total", "counter",
                     "WebSocket upgrades refused: the gateway, or the client's address, held "
                     "all the connections it may.",
                     parts->admission? (double) gc_admission_refused (parts->admission): 0);
    gc_metric_write (stream, "groupchat_gateway_broker_up", "gauge",
                     "1 while the broker link is up: a request sent now is served.",
                     gc_link_up (link));
    gc_metric_write (stream, "groupchat_gateway_broker_reconnects_total", "counter",
                     "Connections to the broker made after the first.",
                     (double) gc_link_reconnects (link));
    gc_metric_write (stream, "groupchat_broker_endpoint_index", "gauge",
                     "The broker this gateway dials now: its place in the endpoint "
                     "lists, from 0.", (double) gc_link_endpoint_index (link));
    gc_metric_write (stream, "groupchat_gateway_broker_moves_total", "counter",
                     "Moves to the next broker of the list, the previous one not answering.",
                     (double) gc_link_moves (link));
    gc_metric_write (stream, "groupchat_gateway_requests_waiting", "gauge",
                     "Requests waiting for the broker link to be up.",
                     (double) gc_link_waiting (link));
    gc_metric_write (stream, "groupchat_rooms_active", "gauge",
                     "Rooms with members on this gateway.", gc_rooms_size (rooms));
    gc_rooms_write_members (rooms, stream);
    gc_histogram_write (gc_link_rtt (link), stream,
                        "groupchat_broker_round_trip_seconds",
                        "Time from a request to the broker until its reply.");
    const char *broker = gc_link_broker_metrics (link);
    if (broker)
        fputs (broker, stream);
}
