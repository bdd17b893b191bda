/*  gc_limits.h: the numbers every groupchat program agrees on.

    The client protocol (docs/protocol.md) fixes most of them; the rest
    bound time and memory between broker and gateways. One place, so a
    limit is never written twice with two values. */
#ifndef GC_LIMITS_H_INCLUDED
#define GC_LIMITS_H_INCLUDED

//  A limit as text, for messages that state it: GC_STR (GC_TEXT_MAX)
#define GC_STRINGIFY(x)         #x
#define GC_STR(x)               GC_STRINGIFY (x)

#define GC_TEXT_MAX             4096    //  bytes of UTF-8 in one say
#define GC_FRAME_MAX            65536   //  bytes in one client frame
#define GC_JOIN_HISTORY         10      //  messages in a plain join reply
#define GC_SINCE_MAX            1000    //  messages in a join-with-since reply
#define GC_SINCE_BYTES_MAX      (256 * 1024)    //  and bytes of their texts, one message at least
#define GC_HISTORY_DEFAULT      10      //  history request without limit
#define GC_HISTORY_MAX          100     //  largest history limit
#define GC_NAME_MAX             256     //  bytes in a user or room name
#define GC_LOG_VALUE_MAX        (2 * GC_NAME_MAX + 3)   //  a name quoted for a log
#define GC_TOKEN_TTL_MS         (24LL * 3600 * 1000)
//  A login token: 32 random bytes in unpadded base64url, 43 characters;
//  buffers hold GC_TOKEN_LEN + 1 for the NUL
#define GC_TOKEN_LEN            43
//  A token's last use is written at most this often: a write per
//  reconnect would cost an fsync each
#define GC_TOKEN_TOUCH_MS       (60 * 1000)
//  How often the broker deletes expired tokens
#define GC_TOKEN_PURGE_MS       (3600 * 1000)
//  A say's nonce: 1 to GC_NONCE_MAX bytes, remembered with the seq it
//  got for GC_NONCE_TTL_MS, so that a client's resend within that time
//  stores nothing; forgotten ones are deleted every GC_NONCE_PURGE_MS,
//  GC_NONCE_PURGE_BATCH at a time (and the rest of the last one's group
//  commit; a full pass goes on a clock tick later), so that no delete
//  holds the write lock for long
#define GC_NONCE_MAX            64
#define GC_NONCE_TTL_MS         (24LL * 3600 * 1000)
#define GC_NONCE_PURGE_MS       (3600 * 1000)
#define GC_NONCE_PURGE_BATCH    10000
#define GC_RETAIN_PASS_MS       60000   //  retention looks for messages due
#define GC_RETAIN_BATCH         5000    //  deleting at most these in one pass

//  A gateway answers unavailable this long after a request arrived (the
//  default of its --request-deadline); the broker refuses to act on a
//  request past its deadline, which is set early enough that anything
//  the broker does act on is answered first: a sent request is given up
//  on at half as long again.
#define GC_REQUEST_DEADLINE_MS  3000
#define GC_REQUEST_GIVEUP(deadline_ms)  ((deadline_ms) * 3 / 2)

//  Heartbeat between gateway and broker: a gateway's link to the broker
//  is no longer up when no reply came for GC_HEARTBEAT_DEAD_MS (a broker
//  that hangs without closing its connections).
#define GC_HEARTBEAT_MS         1000
#define GC_HEARTBEAT_DEAD_MS    3000

//  The broker republishes the newest seq of each room that changed within
//  GC_HEAD_RECENT_MS every GC_HEAD_BEACON_MS, so that a gateway whose SUB
//  dropped the last message of a burst still notices the gap.
#define GC_HEAD_BEACON_MS       1000
#define GC_HEAD_RECENT_MS       60000

//  The largest message between a gateway and the broker, in bytes: the
//  largest reply, a join with since of GC_SINCE_MAX messages each with a
//  text of GC_TEXT_MAX, the longest room and sender names and 64 bytes of
//  keys and numbers, twice over, so that a rooms reply of tens of
//  thousands of the longest names fits too (requests and events are far
//  smaller). Both ends set it as ZMQ_MAXMSGSIZE on their link sockets:
//  ZeroMQ drops a peer that sends more as soon as the message's header
//  says so, where without a bound one peer could make the broker or a
//  gateway buffer gigabytes. The broker sends nothing larger.
#define GC_LINK_MESSAGE_MAX     (2 * GC_SINCE_MAX * (GC_TEXT_MAX + 2 * GC_NAME_MAX + 64))

//  Memory one msgpack decode may ask for, its objects and arrays: a frame
//  that would need more is refused before anything is allocated for it.
//  The largest reply a gateway gets, a join with since of GC_SINCE_MAX
//  messages, needs about 330 KB whatever its texts; 64 MiB leaves room
//  for an administrator's lists of hundreds of thousands of names, while
//  a hostile frame can no longer ask for gigabytes.
#define GC_DECODE_MEMORY_MAX    (64 * 1024 * 1024)

//  ----------------------------------------------------------------------
//  Broker

#define GC_BROKER_TURN_MAX      4096    //  requests per loop turn, so events get a turn too
#define GC_BROKER_HASH_WORKERS  2       //  argon2id verifications at once
//  Password checks waiting for a worker, at most: at about 64 ms each on
//  two workers, a second's work. A login that finds them all taken is
//  told `unavailable` at once rather than queued for longer than its
//  deadline allows
#define GC_HASHER_QUEUE_MAX     32
#define GC_HASHER_NICE          10      //  the hash workers' nice value

//  Password login throttling (broker/throttle.h): failures allowed per
//  user name, and per client address, within the window before each
//  further one locks the name (or address) for 1 s, then 2, 4, ... up to
//  15 minutes; a success clears the name. At most this many names and as
//  many addresses are counted (about 100 bytes each)
#define GC_LOGIN_FREE_FAILURES              5
#define GC_LOGIN_FREE_FAILURES_PER_ADDRESS  20
#define GC_LOGIN_WINDOW_MS          (15 * 60 * 1000)
#define GC_LOGIN_FIRST_LOCK_MS      1000
#define GC_LOGIN_LONGEST_LOCK_MS    (15 * 60 * 1000)
#define GC_LOGIN_KEYS_MAX           100000
#define GC_LOGIN_SWEEP_MS           60000
//  A client address as a gateway writes it (IPv6 text, or a name)
#define GC_ADDRESS_MAX              64
#define GC_BROKER_IDENTITY_MAX  256     //  bytes of a ZeroMQ routing id we keep
//  Messages queued per peer on the broker's ROUTER before ZeroMQ drops:
//  a burst of says to many rooms must fit
#define GC_BROKER_HWM           1000000
//  Events queued for one subscriber on the broker's XPUB before ZeroMQ
//  drops that subscriber's copies. Each is up to a text of GC_TEXT_MAX
//  and its fields, so a subscriber that never reads costs the broker at
//  most about 4096 x 4.3 KB = 18 MB, not all it ever publishes. It is
//  one loop turn of says (GC_BROKER_TURN_MAX), so a gateway that keeps
//  up loses nothing even when a whole turn is published before ZeroMQ's
//  I/O thread sends any of it; a gateway that falls further behind loses
//  the rest at the broker and refills it from the broker's history by
//  seq, as it does for any gap (docs/architecture.md).
#define GC_BROKER_PUB_HWM       GC_BROKER_TURN_MAX
#define GC_BROKER_REBIND_MS     10      //  retry binding the events socket after unbinding it
#define GC_LEASE_POLL_MS        100     //  a standby tries the database's lease this often
//  A PostgreSQL database's lease (broker/lease.h): taken for this long,
//  renewed this often. Its holder stops once it could not renew it for
//  GC_LEASE_MS - GC_LEASE_RENEW_MS by its own clock, before a standby
//  can take it, and the server ends a session of its idle for
//  GC_LEASE_MS inside a transaction (a broker stopped half-way)
#define GC_LEASE_MS             2000
#define GC_LEASE_RENEW_MS       500
//  The exit status of a broker that lost its lease (or the connection
//  it proves the lease with): a supervisor starts it again, as a standby
#define GC_LEASE_LOST_EXIT      3
//  How long a statement waits for another process's write lock (a backup
//  or an operator's sqlite3) before giving up: well inside a request's
//  deadline, so that a say that had to wait is still decided in time
//  (and the broker's loop, which waits with it, is not held for long)
#define GC_STORE_BUSY_MS        1000
#define GC_STORE_MEMBERSHIP_MAX 65536   //  membership answers cached before starting over
//  Presence (broker/presence.h): a gateway instance not heard from (no
//  request, no heartbeat) for this long is gone, and its users with it;
//  looked for this often, so that they leave within a quarter second of it
#define GC_PRESENCE_GATEWAY_TIMEOUT_MS  10000
#define GC_PRESENCE_SWEEP_MS    250
//  After the broker starts, the gateways tell it who is present; for this
//  long it publishes no join or leave, then one snapshot per room
#define GC_PRESENCE_REBUILD_MS  10000
//  Typing is forwarded at most once per this per user and room, by each
//  gateway and again by the broker (a user may be on several gateways)
#define GC_TYPING_INTERVAL_MS   1000
//  A gateway instance's id: random bytes, sent as hex
#define GC_INSTANCE_BYTES       16

//  ----------------------------------------------------------------------
//  Gateway

#define GC_ROOM_RING            1024    //  recent frames a room keeps (power of 2)
#define GC_CATCHUP_BATCH        32      //  frames a lagging member fetches at once
#define GC_REFILL_BATCH         100     //  messages a room refills at once
//  Requests a connection may send, by default (--rate-limit): per second
//  a person never comes near it, and a flood costs a frame read and
//  parsed per token at most, the rest left in the kernel (conn.c)
#define GC_RATE_LIMIT_DEFAULT   20
//  The bucket holds twice the rate, but never less than this: a client
//  reconnecting logs in, then re-joins each of its rooms with since, all
//  at once, which must not be refused however low the rate is set (a
//  hundred rooms is more than people keep open); a higher rate keeps
//  its two seconds' worth
#define GC_RATE_BURST_MIN       100
#define GC_RATE_BURST(rate)     ((rate) * 2 > GC_RATE_BURST_MIN? (rate) * 2: GC_RATE_BURST_MIN)
#define GC_CONN_SLOTS_MAX       256     //  queued requests before reading pauses
#define GC_CONN_HELD_MAX        (4 << 20)   //  or bytes of replies the client has not read
#define GC_STALL_MS             30000   //  no write progress this long: disconnect
#define GC_CLOSE_GRACE_S        5       //  a session ended: its closed push written by then, or dropped
#define GC_CLOSE_REASON_MAX     123     //  bytes of a WebSocket close reason (RFC 6455, 5.5)
#define GC_BATCH_MAX            16384   //  bytes of frames one write carries
#define GC_BATCH_FRAMES         16      //  frames one write carries
#define GC_GATEWAY_SWEEP_MS     1000    //  how often stalled readers are looked for
#define GC_GATEWAY_RX_BUFFER    2048    //  lws reads in pieces this big; a frame is joined
#define GC_LINK_TICK_MS         200     //  request timeouts and heartbeat clock
#define GC_LINK_DRAIN_BUDGET    4096    //  messages per socket per turn, for fairness
#define GC_LINK_HWM             100000  //  messages queued to or from the broker
#define GC_LINK_RECONNECT_MS    100     //  first retry after the broker went away
#define GC_LINK_REDIAL_MS       1000    //  a handshake the broker refused: dial again
#define GC_LINK_RECONNECT_MAX_MS 1000   //  retries back off to this
//  Requests waiting for the broker link to be up (a broker restarting);
//  one more is answered unavailable at once. Each holds its encoded
//  frame, at most a say's text and names, so all of them under 20 MiB.
#define GC_LINK_WAITING_MAX     4096
#define GC_GATEWAY_IO_TIMEOUT_S 30      //  lws's limit on a stalled handshake or HTTP exchange
//  Open files a gateway keeps for itself (broker link, listeners, logs)
//  out of its limit when it sizes --max-connections by it
#define GC_GATEWAY_FD_RESERVE   64
#define GC_GATEWAY_CONNECTIONS_DEFAULT  1000    //  when the limit is unknown
//  Connections from one client address, by default: a household or an
//  office behind one address, with a few tabs each
#define GC_GATEWAY_PER_ADDRESS_DEFAULT  256
//  Connections logged in as one user, by default: a person's devices and
//  tabs, well short of what one stolen password could hold open
#define GC_GATEWAY_PER_USER_DEFAULT     32
//  Rooms one connection may be in, by default: each is a ring cursor and
//  a subscription the gateway keeps for it
#define GC_GATEWAY_ROOMS_DEFAULT        100
//  Bytes of the headers of one HTTP answer (or of a whole refusal,
//  gc_http_refuse): the security headers alone take about 270 (page.c),
//  a file's type, length, ETag and Cache-Control about 150 more
#define GC_GATEWAY_HTTP_HEADERS 1024
//  Bytes of an HTTP body written at once: a large file goes out as the
//  client reads it, not buffered whole inside lws for a slow reader
#define GC_GATEWAY_HTTP_CHUNK   16384
//  Bytes of an If-None-Match header compared; longer: the file is sent
#define GC_GATEWAY_IF_NONE_MATCH    512
#define GC_ORIGIN_MAX           256     //  bytes of an Origin header compared; longer: refused

//  ----------------------------------------------------------------------
//  Client

#define GC_CLIENT_PENDING       256     //  requests remembered by id (ids modulo this)
//  A say or join refused as over the rate is sent again after the wait
//  the gateway names, but never waits longer than this: a gateway's
//  refill is a fraction of a second at any rate it can be set to
#define GC_CLIENT_RETRY_MAX_MS  10000
#define GC_CLIENT_RECEIVE_MAX   (64 * 1024 * 1024)  //  a join with since can be large
//  Says kept until the gateway acknowledges them (in flight, or typed
//  while the connection is down): past this a line is refused, rather
//  than a long outage growing the queue without end
#define GC_CLIENT_QUEUE_MAX     100
//  --say, once connected, rides out a dropped connection while the wait
//  between rounds of reconnecting stays within this (250 ms doubling:
//  about 15 s of trying); a gateway's restart takes a second or two
#define GC_CLIENT_SAY_RECONNECT_MS   8000
//  A say the service could not take now (`unavailable`) goes again after
//  a backoff that stops growing here: a busy broker is not a gone one
#define GC_CLIENT_UNAVAILABLE_MAX_MS 4000
//  Typing (protocol.md, "Typing"): the interactive client tells the room
//  at most once per GC_CLIENT_TYPING_SEND_MS while its user types (the
//  server forwards one a second: more would be dropped anyway), and shows
//  another's typing until their message, or until GC_CLIENT_TYPING_SHOWN_MS
//  pass without another, as the protocol asks; past GC_CLIENT_TYPISTS_NAMED
//  at once they are counted, not named, so the prompt stays short
#define GC_CLIENT_TYPING_SEND_MS    3000
#define GC_CLIENT_TYPING_SHOWN_MS   5000
#define GC_CLIENT_TYPISTS_NAMED     3

//  ----------------------------------------------------------------------
//  Bench (groupchat-bench)

#define GC_BENCH_URLS_MAX       64      //  --url given at most
#define GC_BENCH_ROOMS_MAX      16      //  --room given at most
#define GC_BENCH_PIDS_MAX       16      //  server processes watched for memory
#define GC_BENCH_CONN_ROOMS     4       //  rooms one connection may be in
#define GC_BENCH_CONN_QUEUE     65536   //  frames waiting to be written, at most
#define GC_BENCH_SCRATCH        (3 * GC_FRAME_MAX)  //  largest request encoded
#define GC_BENCH_OPENING_MAX    256     //  connections opening at once
#define GC_ORDER_WINDOW         512     //  seqs ahead an order check remembers

#endif
