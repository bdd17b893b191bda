"""failover.py: how long a broker failover takes, measured (`make bench`).

Two brokers on one database file (or, with --postgres, one PostgreSQL
database on a server of the bench's own), one serving and one standby,
two gateways given both, and a client saying without pause through each
gateway. Each round SIGKILLs the serving broker and measures, from the
kill: until both gateways' /healthz answer 200 through the standby
("serving"), and until each stream has a say acknowledged again
("acknowledged": a say sent to the dead broker is only answered
`unavailable` at its deadline, so this also holds that wait). The killed
broker then comes back as the standby. Prints the distribution of both
over the rounds; exits 1 when a stream lost or repeated a say.

    python3 bench/failover.py --bin bin [--rounds 20] [--postgres]
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import harness                                          # noqa: E402
from harness import Cluster, seq_of                     # noqa: E402
from harness.stream import Stream, check_stored        # noqa: E402

ROOM = "Taskmaster"


async def acknowledged_after(stream, moment):
    while not any(at > moment for at in stream.acked_at):
        await asyncio.sleep(0.005)  # stream polling interval
    return min(at for at in stream.acked_at if at > moment) - moment


def summary(name, values):
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return "%-13s min %.2f  median %.2f  p95 %.2f  max %.2f s" % (
        name, ordered[0], statistics.median(ordered), p95, ordered[-1])


async def main(args):
    harness.configure(args.bin, tempfile.mkdtemp(prefix="groupchat-failover-"))
    serving, acknowledged, kills = [], [], []
    async with Cluster(brokers=2, postgres=args.postgres) as cluster:
        await cluster.start_standby(1)
        speakers = [await cluster.login(user, gateway=g) for g, user in enumerate(("Sue", "Alex"))]
        base = seq_of(await speakers[0].join(ROOM))
        await speakers[1].join(ROOM)
        streams = [Stream(speaker, ROOM, prefix=speaker.user) for speaker in speakers]
        await asyncio.sleep(0.5)    # a stream under way before the first kill
        active = 0
        for _ in range(args.rounds):
            await cluster.kill_broker(active)
            killed = time.monotonic()
            kills.append(int(time.time() * 1000))
            await cluster.wait_serving_on(1 - active)
            serving.append(time.monotonic() - killed)
            for stream in streams:
                acknowledged.append(await acknowledged_after(stream, killed))
            await cluster.start_standby(active)
            active = 1 - active
        for stream in streams:
            await stream.stop()
        reader = await cluster.login("Sandy", gateway=1)
        history = []
        since = base
        while True:
            reply = await reader.join(ROOM, since=since)
            history += reply["history"]
            if reply["complete"]:
                break
            since = reply["history"][-1]["seq"]
        said = sum(len(stream.acked) for stream in streams)
        merged = Stream.__new__(Stream)
        merged.acked = {seq: text for stream in streams for seq, text in stream.acked.items()}
        merged.unavailable = {}
        for stream in streams:
            merged.unavailable.update(stream.unavailable)
        check_stored(history, merged, base, kills)
    print("failover on %s, %d rounds, %d says acknowledged, each stored once" % (
        "PostgreSQL" if args.postgres else "SQLite", args.rounds, said))
    print(summary("serving", serving))
    print(summary("acknowledged", acknowledged))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="bin")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", action="store_true",
                        help="the brokers share a PostgreSQL database (its lease), not a file")
    asyncio.run(main(parser.parse_args()))
