#!/usr/bin/python3
"""corpus.py: writes the seed corpora of the fuzz harnesses, fuzz/corpus/NAME/.

A handful of small valid inputs per harness, each named for what it is,
from which libFuzzer starts: requests of every op as a client sends them
(request), broker frames of every op in msgpack (codec), what a gateway
sends a client, frame after frame (session), and history queries (store).
The files are kept in the repository; run this again (with Debian's python3-msgpack)
only to change them:

    /usr/bin/python3 fuzz/corpus.py
"""

import json
import os
import shutil
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))

MESSAGE = {"op": "message", "room": "Taskmaster", "seq": 42, "from": "Sue",
           "text": "Did you see the last task?", "ts": 1795962000123}


def requests():
    """Client frames as JSON text, one request each."""
    frames = {
        "login-password": {"op": "login", "id": 1, "user": "Alex", "password": "password"},
        "login-token": {"op": "login", "id": 1, "token": "3q2-7w"},
        "logout": {"op": "logout"},
        "rooms": {"op": "rooms", "id": 2},
        "join": {"op": "join", "id": 3, "room": "Taskmaster"},
        "join-since": {"op": "join", "id": 3, "room": "Taskmaster", "since": 41},
        "say": {"op": "say", "id": 4, "room": "Taskmaster", "text": "Did you see the last task?"},
        "say-nonce": {"op": "say", "id": 4, "room": "Taskmaster", "text": "hi", "nonce": "c1-000042"},
        "say-escapes": {"op": "say", "id": -5, "room": "8 out of 10 cats",
                        "text": "line\none \u00e9\u4e2d\U0001f600 \"q\" \\"},
        "leave": {"op": "leave", "id": 5, "room": "Taskmaster"},
        "history": {"op": "history", "id": 6, "room": "Taskmaster", "before": 42, "limit": 50},
        "history-since": {"op": "history", "room": "Taskmaster", "since": 3, "limit": 1},
    }
    written = {name + ".json": json.dumps(frame, ensure_ascii=False).encode()
               for name, frame in frames.items()}
    written["nul-in-text.json"] = b'{"op":"say","id":7,"room":"r","text":"a\\u0000b"}'
    return written


def codec():
    """Broker frames as msgpack: every op, and every field's kind."""
    history = [{"room": "Taskmaster", "seq": seq, "from": "Sue", "text": "m%d" % seq,
                "ts": 1795962000000 + seq} for seq in (41, 42)]
    frames = {
        "ping": {"op": "ping", "rid": 1, "deadline": 1795962003000},
        "login": {"op": "login", "rid": 2, "user": "Alex", "password": "password"},
        "login-token": {"op": "login", "rid": 2, "token": "3q2-7w"},
        "logout": {"op": "logout", "rid": 3, "token": "3q2-7w"},
        "rooms": {"op": "rooms", "rid": 4, "user": "Sue"},
        "join": {"op": "join", "rid": 5, "user": "Sue", "room": "Taskmaster", "since": 40},
        "say": {"op": "say", "rid": 6, "user": "Sue", "room": "Taskmaster", "text": "hi"},
        "say-nonce": {"op": "say", "rid": 6, "user": "Sue", "room": "Taskmaster", "text": "hi",
                      "nonce": "c1-000042"},
        "history": {"op": "history", "rid": 7, "user": "Sue", "room": "Taskmaster",
                    "before": 42, "limit": 10},
        "ok-join": {"op": "ok", "rid": 5, "room": "Taskmaster", "history": history,
                    "head": 42, "complete": True},
        "ok-rooms": {"op": "ok", "rid": 4, "rooms": ["8 out of 10 cats", "Taskmaster"]},
        "ok-say": {"op": "ok", "rid": 6, "seq": 43, "ts": 1795962000123},
        "error": {"op": "error", "rid": 5, "code": "not_member", "message": "no"},
        "message": dict(MESSAGE, op="message"),
        "head": {"op": "head", "room": "Taskmaster", "seq": 42},
        "kick": {"op": "kick", "room": "Taskmaster", "user": "Sandy"},
        "user-add": {"op": "user_add", "rid": 8, "user": "Greg", "hash": "$argon2id$v=19$x"},
        "user-remove": {"op": "user_remove", "rid": 8, "user": "Greg"},
        "password-set": {"op": "password_set", "rid": 8, "user": "Greg", "hash": "$argon2id$y"},
        "room-add": {"op": "room_add", "rid": 8, "room": "Bake Off"},
        "member-add": {"op": "member_add", "rid": 8, "user": "Greg", "room": "Bake Off"},
        "member-remove": {"op": "member_remove", "rid": 8, "user": "Greg", "room": "Bake Off"},
        "backup": {"op": "backup", "rid": 9, "path": "nightly.db"},
        "stats": {"op": "stats", "rid": 9},
        "ok-stats": {"op": "ok", "rid": 9, "text": "groupchat_says_total 3\n"},
        "user-list": {"op": "user_list", "rid": 10},
        "room-list": {"op": "room_list", "rid": 10, "user": "Sue"},
        "member-list": {"op": "member_list", "rid": 10, "room": "Taskmaster"},
        "ok-names": {"op": "ok", "rid": 10, "names": ["Alex", "Sue"]},
        "negative-ts": {"op": "ok", "rid": 11, "ts": -1, "deadline": -5},
    }
    return {name + ".msgpack": msgpack.packb(frame) for name, frame in frames.items()}


def session():
    """What a gateway sends a client that has logged in (id 1) and is
    joining Taskmaster (id 2): frames one after another, each ended by a
    NUL byte, which no JSON text holds."""
    def frames(*objects):
        return b"".join(json.dumps(o, ensure_ascii=False).encode() + b"\0" for o in objects)

    login = {"op": "ok", "id": 1, "user": "Sue", "token": "T0k"}
    joined = {"op": "ok", "id": 2, "room": "Taskmaster",
              "history": [dict(MESSAGE, seq=40), dict(MESSAGE, seq=41)]}
    return {
        "login-join-push": frames(login, joined, MESSAGE, dict(MESSAGE, seq=43)),
        "join-since-incomplete": frames(login, dict(joined, complete=False), MESSAGE),
        "rooms": frames(login, {"op": "ok", "id": 3, "rooms": [{"name": "Taskmaster"},
                                                               {"name": "QI"}]}),
        "history": frames(login, joined, {"op": "ok", "id": 5, "room": "Taskmaster",
                                          "history": [dict(MESSAGE, seq=3)]}),
        "say-ok": frames(login, joined, {"op": "ok", "id": 4, "seq": 44}),
        "errors": frames({"op": "error", "id": 1, "code": "unavailable", "message": "busy"},
                         {"op": "error", "id": 1, "code": "bad_credentials"},
                         {"op": "error", "id": 2, "code": "not_member", "message": "no"}),
        "left": frames(login, joined, {"op": "left", "room": "Taskmaster", "reason": "removed"}),
    }


def store():
    """History queries: a kind byte (0 before, 1 since, 2 paging back,
    3 paging on), a room byte (an index into the harness's rooms, or 255
    for a name that follows), a bound (8 bytes) and a limit (4 bytes),
    little-endian, then the name."""
    def query(kind, room, bound, limit, name=b""):
        return struct.pack("<BBQI", kind, room, bound, limit) + name

    return {
        "join": query(0, 0, 0, 10),
        "history-before": query(0, 0, 42, 50),
        "join-since": query(1, 0, 41, 1000),
        "refill": query(1, 0, 100, 100),
        "page-back": query(2, 0, 0, 7),
        "page-on": query(3, 0, 0, 9),
        "one-message": query(0, 1, 0, 10),
        "empty-room": query(1, 2, 0, 10),
        "unknown-room": query(0, 255, 0, 10, b"Nowhere"),
    }


def main():
    for name, files in (("request", requests()), ("codec", codec()), ("session", session()),
                        ("store", store())):
        folder = os.path.join(HERE, "corpus", name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for file_name, data in files.items():
            with open(os.path.join(folder, file_name), "wb") as out:
                out.write(data)


if __name__ == "__main__":
    main()
