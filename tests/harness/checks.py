"""checks.py: assertions on what the protocol says must hold: the shape
of a MESSAGE, and seqs that go up by exactly one."""


def seq_of(reply):
    """The newest seq in a join/history reply's history, 0 when empty."""
    history = reply["history"]
    return history[-1]["seq"] if history else 0


def check_message(message, room=None):
    """Asserts that `message` has the MESSAGE shape of protocol.md."""
    assert isinstance(message, dict), "MESSAGE is not an object: %r" % (message,)
    for field, kind in (("room", str), ("seq", int), ("from", str),
                        ("text", str), ("ts", int)):
        assert isinstance(message.get(field), kind) \
            and not isinstance(message.get(field), bool), \
            "MESSAGE field %r missing or not %s: %r" % (field, kind.__name__, message)
    assert message["seq"] >= 1, "seq below 1: %r" % (message,)
    if room is not None:
        assert message["room"] == room, "message of room %r, expected %r: %r" \
            % (message["room"], room, message)


def assert_contiguous(seqs, first=None, what="seqs"):
    """Asserts that seqs go up by exactly one (and start at `first`)."""
    if first is not None and seqs:
        assert seqs[0] == first, "%s start at %d, expected %d: %s" \
            % (what, seqs[0], first, short(seqs))
    for before, after in zip(seqs, seqs[1:]):
        assert after == before + 1, "%s not contiguous at %d -> %d: %s" \
            % (what, before, after, short(seqs))


def short(items, keep=12):
    """A long list cut to its ends, for an assertion's message."""
    items = list(items)
    if len(items) <= 2 * keep:
        return repr(items)
    return "%r ... %r (%d in all)" % (items[:keep], items[-keep:], len(items))
