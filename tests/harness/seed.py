"""seed.py: what an empty database starts with (protocol.md): the users,
their password, and the rooms of their groups."""

ROOM = "Taskmaster"
USERS = ("Alex", "Sue", "Sandy")
PASSWORD = "password"

#  What each seeded user sees in `rooms`, sorted by name (protocol.md)
ROOMS_OF = {
    "Alex": ["8 out of 10 cats", "Taskmaster"],
    "Sue": ["8 out of 10 cats", "Quite Interesting", "Taskmaster"],
    "Sandy": ["Quite Interesting", "Taskmaster"],
}
