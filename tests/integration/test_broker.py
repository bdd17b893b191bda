"""test_broker.py: the broker spoken to directly, in its own protocol
(docs/broker-protocol.md), as anything that reaches its ports can: what
it checks for itself rather than trusting a gateway to have checked.
"""

from harness import Cluster
from harness.broker import BrokerLink


def requests_link(cluster):
    return BrokerLink("tcp://127.0.0.1:%d" % cluster.requests_port)


async def test_history_is_for_members_only_whoever_asks(cluster):
    link = requests_link(cluster)
    sue = await cluster.login("Sue")
    await sue.join("8 out of 10 cats")
    seq = await sue.say("only for members", room="8 out of 10 cats")
    #  A member gets it; the same request naming a non-member is refused
    #  with the code a client gets for the same thing (protocol.md)
    reply = await link.request("history", user="Alex", room="8 out of 10 cats", limit=5)
    assert reply["op"] == "ok", reply
    assert reply["history"][-1]["seq"] == seq, reply
    assert reply["history"][-1]["text"] == "only for members", reply
    for request in ({"user": "Sandy", "before": seq + 1}, {"user": "Sandy", "since": 0},
                    {"user": "Nobody"}):
        reply = await link.request("history", room="8 out of 10 cats", **request)
        assert (reply["op"], reply["code"]) == ("error", "not_member"), (request, reply)
        assert "history" not in reply, reply
    #  The same check as a join's: an unknown room, a request naming no one
    reply = await link.request("join", user="Sandy", room="8 out of 10 cats")
    assert reply["code"] == "not_member", reply
    reply = await link.request("history", user="Sandy", room="Nowhere")
    assert reply["code"] == "no_such_room", reply
    reply = await link.request("history", room="8 out of 10 cats")
    assert reply["code"] == "bad_request", reply


async def test_members_history_through_a_gateway_still_works(cluster):
    """The gateway names its client's user in every history request, its
    own gap refills and catch-ups included."""
    sandy = await cluster.login("Sandy", gateway=1)
    await sandy.join("Quite Interesting")
    seqs = await sandy.say_many(["page %d" % i for i in range(3)], room="Quite Interesting")
    page = await sandy.history(room="Quite Interesting", before=seqs[-1] + 1, limit=3)
    assert [message["seq"] for message in page] == seqs, page
