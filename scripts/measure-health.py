"""measure-health.py: how truthfully a gateway's /healthz follows its broker.

    /usr/bin/python3 scripts/measure-health.py [--bin DIR] [--rounds N]

Starts a broker and one gateway on loopback (the test harness's Cluster)
and, for a SIGTERM and then a SIGKILL of the broker, N rounds each of:

- death to 503: the broker is stopped at a random moment of the
  gateway's heartbeat; seconds from its exit until /healthz, polled
  every 5 ms, says 503. Then the broker is started again.
- the lie after a restart: the broker is stopped and started again at
  once; /healthz is polled every 5 ms and, whenever it says 200, a logged
  in client sends `rooms` at that moment. The seconds from the first to
  the last such request answered `unavailable` are the time /healthz
  said 200 while requests failed (0 when none failed).

Prints min, max and mean of each. docs/operations.md ("Health checks")
holds the figures.
"""

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from harness import Cluster, configure  # noqa: E402

POLL = 0.005


async def healthz(cluster):
    try:
        return await cluster.healthz(0, 1.0)
    except (OSError, asyncio.TimeoutError) as error:
        return repr(error)


async def death_to_503(cluster, signum):
    #  Not right after a reply: at any moment of the heartbeat
    await asyncio.sleep(random.uniform(0, 1))
    await cluster.stop_broker(signum)
    gone = time.monotonic()
    while await healthz(cluster) != 503:
        await asyncio.sleep(POLL)
    seconds = time.monotonic() - gone
    await cluster.start_broker()
    return seconds


async def lie_after_restart(cluster, client, signum, within=4.0):
    await cluster.stop_broker(signum)
    await cluster.start_broker(wait=False)
    first = last = None
    served = 0
    end = time.monotonic() + within
    while time.monotonic() < end and served < 3:
        if await healthz(cluster) == 200:
            asked = time.monotonic()
            reply = await client.request("rooms", timeout=10)
            if reply["op"] == "ok":
                served += 1
            else:
                first = first or asked
                last = asked
        await asyncio.sleep(POLL)
    await cluster.wait_healthy()
    return last - first + POLL if first else 0.0


def summary(what, values):
    return "%-40s min %.3f  max %.3f  mean %.3f  (nonzero in %d of %d)" % (
        what, min(values), max(values), sum(values) / len(values),
        sum(1 for value in values if value), len(values))


async def measure(rounds):
    async with Cluster(gateways=1) as cluster:
        client = await cluster.login("Alex")
        for signum in (signal.SIGTERM, signal.SIGKILL):
            name = signal.Signals(signum).name
            deaths = [await death_to_503(cluster, signum) for _ in range(rounds)]
            print(summary("%s: death to 503, s" % name, deaths), flush=True)
            lies = [await lie_after_restart(cluster, client, signum) for _ in range(rounds)]
            print(summary("%s: 200 while requests failed, s" % name, lies), flush=True)


def main(bin_dir, rounds):
    with tempfile.TemporaryDirectory(prefix="measure-health-") as root:
        configure(bin_dir, root)
        asyncio.run(measure(rounds))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="bin", help="folder of the built programs")
    parser.add_argument("--rounds", type=int, default=10, help="rounds per kind of stop")
    options = parser.parse_args()
    main(options.bin, options.rounds)
