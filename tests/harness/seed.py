"""seed.py: what an empty database starts with (protocol.md): the users,
their password, and the rooms of their groups."""

ROOM = "Taskmaster"
USERS = ("Alex", "Sue", "Sandy")
PASSWORD = "password"
#  Every seeded user's generation (docs/broker.md), which a request for
#  them in the broker's own protocol carries, until their password is set
GENERATION = 1

#  What each seeded user sees in `rooms`, sorted by name (protocol.md)
ROOMS_OF = {
    "Alex": ["8 out of 10 cats", "Taskmaster"],
    "Sue": ["8 out of 10 cats", "Quite Interesting", "Taskmaster"],
    "Sandy": ["Quite Interesting", "Taskmaster"],
}
