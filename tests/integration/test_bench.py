"""test_bench.py: groupchat-bench against a real broker and two gateways.

Short runs, for correctness only: every scenario that sends checks each
delivery (nothing missing, repeated or out of order) and that every say
is answered, and reports passed, over ws:// and over wss:// (the
gateways' certificate verified). Figures are for `make bench`, not here.
"""

import json
import os

from harness import CONFIG, Certificates, Cluster, run_program


async def bench(cluster, *args, timeout=60):
    urls = [word for index in range(len(cluster.ports))
            for word in ("--url", cluster.url(index))]
    code, out, err = await run_program("groupchat-bench",
                                       urls + list(args) + ["--json-only"], timeout)
    lines = out.strip().splitlines()
    assert lines, "no output: exit %d, stderr %r" % (code, err)
    return code, json.loads(lines[-1]), err


async def test_fanout_and_ack_pass_their_checks():
    async with Cluster(gateway_args=("--rate-limit", "0")) as cluster:
        code, result, err = await bench(
            cluster, "--scenario", "fanout", "--members", "6", "--senders", "2",
            "--rate", "100", "--duration", "1")
        assert code == 0 and result["passed"], (result, err)
        assert result["results"]["delivered_per_s"] > 0
        assert all(value == 0 for value in result["checks"].values()), result["checks"]
        #  The closed loop, from a quiet pool: the run must start on time
        code, result, err = await bench(
            cluster, "--scenario", "ack", "--senders", "2", "--inflight", "16",
            "--duration", "1")
        assert code == 0 and result["passed"], (result, err)
        assert result["results"]["acked_per_s"] > 100, result["results"]
        assert result["checks"]["unanswered"] == 0


async def test_fanout_over_wss_verifies_and_passes_its_checks():
    certs = Certificates(os.path.join(CONFIG.tmp_root, "certs"))
    await certs.authority("ca")
    await certs.server("gateway", "ca")
    async with Cluster(gateway_args=["--rate-limit", "0"] + certs.gateway_args("gateway"),
                       tls=True) as cluster:
        code, result, err = await bench(
            cluster, "--ca", certs.path("ca"), "--scenario", "fanout", "--members", "6",
            "--senders", "2", "--rate", "100", "--duration", "1")
        assert code == 0 and result["passed"], (result, err)
        assert result["results"]["delivered_per_s"] > 0
        assert all(value == 0 for value in result["checks"].values()), result["checks"]
        #  The system's CAs do not know the test CA: no connection opens
        code, result, err = await bench(cluster, "--scenario", "fanout", "--members", "2",
                                        "--duration", "1")
        assert code != 0 and "cannot connect" in err, (code, err)


async def test_says_refused_by_the_gateway_fail_the_run():
    """Gateways holding each connection to 20 requests a second refuse
    most of a closed loop of 256 says in flight, however slow the
    servers run (under valgrind too): the bench must count the
    rate_limited replies and say the run failed."""
    async with Cluster(gateway_args=("--rate-limit", "20")) as cluster:
        code, result, err = await bench(
            cluster, "--scenario", "ack", "--senders", "1", "--inflight", "256",
            "--duration", "2")
    assert code == 1 and not result["passed"], result
    assert result["checks"]["error_replies"] > 0, result["checks"]


async def test_no_gateway_to_reach_is_a_clear_failure():
    code, out, err = await run_program(
        "groupchat-bench", ["--url", "ws://127.0.0.1:9/", "--scenario", "fanout",
                            "--members", "2", "--duration", "1"], timeout=30)
    assert code != 0
    assert "cannot connect" in err, err
