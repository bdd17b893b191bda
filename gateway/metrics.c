/*  metrics.c: the gateway's figures in Prometheus text exposition format,
    served at GET /metrics. Names follow Prometheus conventions: counters
    end in _total, each metric has HELP and TYPE lines. */
#include "server.h"

static void
s_metric (FILE *stream, const char *name, const char *type, const char *help,
          uint64_t value)
{
    gc_metric_write (stream, name, type, help, (double) value);
}

void
gc_metrics_write (gc_gateway_t *gateway, FILE *stream)
{
    const gc_counters_t *counters = &gateway->counters;
    s_metric (stream, "groupchat_connections_open", "gauge",
              "Open client WebSocket connections.", gateway->conns.count);
    s_metric (stream, "groupchat_connections_total", "counter",
              "Client WebSocket connections accepted.", counters->connections_opened);
    s_metric (stream, "groupchat_logins_ok_total", "counter",
              "Successful logins.", counters->logins_ok);
    s_metric (stream, "groupchat_logins_failed_total", "counter",
              "Logins refused for bad credentials.", counters->logins_failed);
    s_metric (stream, "groupchat_frames_in_total", "counter",
              "Client frames received.", counters->frames_in);
    s_metric (stream, "groupchat_frames_out_total", "counter",
              "Client frames sent.", counters->frames_out);
    s_metric (stream, "groupchat_messages_delivered_total", "counter",
              "Room messages pushed to connections.", counters->messages_delivered);
    s_metric (stream, "groupchat_slow_readers_closed_total", "counter",
              "Connections closed for making no read progress.", counters->slow_readers_closed);
    s_metric (stream, "groupchat_gaps_refilled_total", "counter",
              "Room gaps refilled from the broker's history.", counters->gaps_refilled);
    s_metric (stream, "groupchat_catchups_total", "counter",
              "Lagging connections caught up from the broker's history.", counters->catchups);
    s_metric (stream, "groupchat_unavailable_total", "counter",
              "Requests answered unavailable.", counters->unavailable);
    s_metric (stream, "groupchat_broker_reachable", "gauge",
              "1 while the broker answers heartbeats.", gc_link_reachable (gateway->link));
    s_metric (stream, "groupchat_rooms_active", "gauge",
              "Rooms with members on this gateway.", zhashx_size (gateway->rooms));
    gc_room_write_members (gateway, stream);
    gc_histogram_write (gc_link_rtt (gateway->link), stream,
                        "groupchat_broker_round_trip_seconds",
                        "Time from a request to the broker until its reply.");
    //  The broker's own figures, as its last heartbeat reply had them
    const char *broker = gc_link_broker_metrics (gateway->link);
    if (broker)
        fputs (broker, stream);
}
