"""config.py: where the programs are and how slowly they run.

tests/run.py calls configure() before a module's tests (or call it by hand
when importing the harness); everything else reads CONFIG.
"""

import os
import shlex


class _Config:
    bin = os.path.abspath("bin")    # folder holding the built programs
    wrap = []                       # command prefix, from GROUPCHAT_TEST_WRAP
    wrap_only = None                # the programs wrapped; None: all
    tmp_root = None                 # parent of every cluster's folder
    slow = 1                        # deadline multiplier (valgrind is slow)
    request_deadline = 3.0          # the gateways' --request-deadline, seconds


CONFIG = _Config()


def configure(bin_dir, tmp_root=None):
    """Points the harness at a folder of programs; reads GROUPCHAT_TEST_WRAP."""
    CONFIG.bin = os.path.abspath(bin_dir)
    CONFIG.wrap = shlex.split(os.environ.get("GROUPCHAT_TEST_WRAP", ""))
    CONFIG.tmp_root = tmp_root
    #  Under valgrind a process runs tens of times slower: stretch the
    #  deadlines that only bound how long we wait, never the ones the
    #  contract sets (those are asserted as they are).
    CONFIG.slow = 10 if CONFIG.wrap else 1
    #  One exception: a password hash under valgrind outlasts a request's
    #  3 s, so wrapped gateways give the broker 10 s (GROUPCHAT_REQUEST_DEADLINE);
    #  tests of that deadline read it here. Unwrapped, it is the contract's.
    CONFIG.request_deadline = 10.0 if CONFIG.wrap else 3.0
    #  The PostgreSQL pass is there for the broker's store: the other
    #  programs were checked under the wrapper in the SQLite pass, and
    #  running them unwrapped again halves its time
    if os.environ.get("GROUPCHAT_TEST_DB") == "postgresql":
        CONFIG.wrap_only = {"groupchat-broker"}


def wrap_for(program):
    """The wrapper's command prefix for `program`: none, or CONFIG.wrap."""
    if CONFIG.wrap_only is not None and program not in CONFIG.wrap_only:
        return []
    return CONFIG.wrap


def deadline(seconds):
    """A waiting bound, stretched when the servers run under a wrapper."""
    return seconds * CONFIG.slow
