/*  gc_limits.h: the numbers every groupchat program agrees on.

    The client protocol (docs/protocol.md) fixes most of them; the rest
    bound time and memory between broker and gateways. One place, so a
    limit is never written twice with two values. */
#ifndef GC_LIMITS_H_INCLUDED
#define GC_LIMITS_H_INCLUDED

#define GC_TEXT_MAX             4096    //  bytes of UTF-8 in one say
#define GC_FRAME_MAX            65536   //  bytes in one client frame
#define GC_JOIN_HISTORY         10      //  messages in a plain join reply
#define GC_SINCE_MAX            1000    //  messages in a join-with-since reply
#define GC_HISTORY_DEFAULT      10      //  history request without limit
#define GC_HISTORY_MAX          100     //  largest history limit
#define GC_NAME_MAX             256     //  bytes in a user or room name
#define GC_TOKEN_TTL_MS         (24LL * 3600 * 1000)

//  A gateway answers unavailable this long after a request arrived; the
//  broker refuses to act on a request past its deadline, which is set
//  early enough that anything the broker does act on is answered first.
#define GC_REQUEST_DEADLINE_MS  3000
#define GC_REQUEST_GIVEUP_MS    4500

//  Heartbeat between gateway and broker: a gateway calls the broker
//  unreachable when no reply came for GC_HEARTBEAT_DEAD_MS.
#define GC_HEARTBEAT_MS         1000
#define GC_HEARTBEAT_DEAD_MS    3000

//  The broker republishes the newest seq of each room that changed within
//  GC_HEAD_RECENT_MS every GC_HEAD_BEACON_MS, so that a gateway whose SUB
//  dropped the last message of a burst still notices the gap.
#define GC_HEAD_BEACON_MS       1000
#define GC_HEAD_RECENT_MS       60000

#endif
