"""test_log_escape.py: names from the network reach the servers' logs
escaped (docs/administration.md, "Logs").

groupchat-admin takes any name, so a user and a room whose names hold
ESC, a newline, a C1 CSI and a bidi override can exist; the user logs
in, joins, says and is put out of the room. Then neither the gateway's
log nor the broker's holds a raw control byte, each line that names
them is one event starting with its time, and the names appear
quoted, in their escaped form (the gateway's /metrics labels the room
by the same form), byte by byte as \\xHH.
"""

import re

from harness.web import http_get

#  The quote and the backslash would end a field early and fake another
#  (room="x") if names were not quoted with them escaped
NAME = 'Mal\x1b[31m\nlory" room="x\u009b2J\u202e'
NAME_LOGGED = r'"Mal\x1b[31m\x0alory\" room=\"x\xc2\x9b2J\xe2\x80\xae"'
ROOM = "Den\\\x1b]0;T\x07\r\nroom"
ROOM_LOGGED = r'"Den\\\x1b]0;T\x07\x0d\x0aroom"'
#  /metrics: Prometheus label escaping of the escaped form
ROOM_LABEL = r'room="Den\\\\x1b]0;T\\x07\\x0d\\x0aroom"'

LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn |info |debug) "
                  r"(broker|gateway): ")
#  Raw in a log, these would act on the terminal of whoever reads it
HARMFUL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def check_log(process, expected):
    """process's log holds no harmful character raw and is valid UTF-8,
    and each expected pattern is found in it."""
    with open(process.log_path, "rb") as log:
        text = log.read().decode("utf-8")   # strict: a stray byte fails here
    found = HARMFUL.search(text)
    assert not found, "%s's log holds %r raw:\n%s" % (process.name, found.group(), text)
    #  What follows a name's newline stays on the line that names it
    for line in text.splitlines():
        if "lory" in line or line.startswith("room"):
            assert LINE.match(line), "%s: a line not made by gc_log: %r" % (process.name, line)
    for wanted in expected:
        assert wanted.search(text), "%s's log has no %r:\n%s" % (
            process.name, wanted.pattern, text)


async def test_names_with_controls_are_logged_escaped(cluster):
    await cluster.add_member(NAME, ROOM)
    client = await cluster.login(NAME)
    await client.join(ROOM)
    await client.say("in the den", room=ROOM)
    gateway = cluster.gateways[0]
    status, body = await http_get(cluster.ports[0], "/metrics")
    text = body.decode("utf-8")
    assert status == 200 and not HARMFUL.search(text), text
    assert (ROOM_LABEL + "} 1\n") in text, text
    await cluster.admin("member", "remove", NAME, ROOM)
    await gateway.wait_for_log('put out conn=')
    check_log(gateway, [
        re.compile(r"login conn=\d+ user=%s\n" % re.escape(NAME_LOGGED)),
        re.compile(r'joined conn=\d+ user=%s room=%s seq=' % (
            re.escape(NAME_LOGGED), re.escape(ROOM_LOGGED))),
        re.compile(r'put out conn=\d+ user=%s room=%s\n' % (
            re.escape(NAME_LOGGED), re.escape(ROOM_LOGGED)))])
    check_log(cluster.broker, [
        re.compile(re.escape("login user=%s with=password\n" % NAME_LOGGED)),
        re.compile(re.escape('admin op=member_add user=%s room=%s result=ok\n' % (
            NAME_LOGGED, ROOM_LOGGED)))])
