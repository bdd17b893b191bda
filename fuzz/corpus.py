#!/usr/bin/python3
"""corpus.py: writes the seed corpora of the fuzz harnesses, fuzz/corpus/NAME/.

A handful of small valid inputs per harness, each named for what it is,
from which libFuzzer starts: requests of every op as a client sends them
(request). The files are kept in the repository; run this again only to
change them:

    /usr/bin/python3 fuzz/corpus.py
"""

import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


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


def main():
    for name, files in (("request", requests()),):
        folder = os.path.join(HERE, "corpus", name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for file_name, data in files.items():
            with open(os.path.join(folder, file_name), "wb") as out:
                out.write(data)


if __name__ == "__main__":
    main()
