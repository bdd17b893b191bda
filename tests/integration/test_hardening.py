"""test_hardening.py: every program is built hardened (docs/dependencies.md,
"Hardening"), read from the built files with binutils' readelf, as a
packager's check would: position-independent (FLAGS_1 PIE), full RELRO
(BIND_NOW, a GNU_RELRO segment), stack canaries (__stack_chk_fail
imported) and fortified libc calls (__printf_chk and the like imported),
except in the ASan build, which leaves _FORTIFY_SOURCE out.
"""

import os
import re
import shutil
import subprocess
import tempfile

from harness import CONFIG

#  The built programs are checked, with no broker on the pass's database
DATABASES = ("sqlite",)

PROGRAMS = ["groupchat-broker", "groupchat-gateway", "groupchat", "groupchat-admin",
            "groupchat-bench", "groupchat-selftest"]


def readelf(option, path):
    done = subprocess.run(["readelf", "-W", option, path], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, "readelf %s %s: %s" % (option, path, done.stderr)
    return done.stdout


def imported(path):
    """The names of the dynamic symbols path takes from libraries."""
    return set(re.findall(r"\bUND\s+([^\s@]+)", readelf("--dyn-syms", path)))


def check_program(path):
    """The hardening of one built program, as a list of what it lacks."""
    lacks = []
    dynamic = readelf("--dynamic", path)
    if not re.search(r"\(FLAGS_1\)\s+Flags:.*\bPIE\b", dynamic):
        lacks.append("PIE (FLAGS_1)")
    if not re.search(r"\(FLAGS\)\s+.*\bBIND_NOW\b", dynamic) \
            or not re.search(r"\(FLAGS_1\)\s+Flags:.*\bNOW\b", dynamic):
        lacks.append("BIND_NOW (-z now)")
    if "GNU_RELRO" not in readelf("--program-headers", path):
        lacks.append("a GNU_RELRO segment (-z relro)")
    symbols = imported(path)
    if "__stack_chk_fail" not in symbols:
        lacks.append("__stack_chk_fail (-fstack-protector-strong)")
    fortified = {name for name in symbols
                 if re.fullmatch(r"__\w+_chk", name) and name != "__stack_chk_fail"}
    if "__asan_init" in symbols:
        if fortified:
            lacks.append("no _FORTIFY_SOURCE under ASan, yet %s" % sorted(fortified))
    elif not fortified:
        lacks.append("a fortified call such as __printf_chk (-D_FORTIFY_SOURCE=2)")
    return lacks


async def test_every_program_is_built_hardened():
    assert shutil.which("readelf"), "readelf is missing (binutils): run scripts/deps.sh"
    found = {}
    for program in PROGRAMS:
        path = os.path.join(CONFIG.bin, program)
        assert os.access(path, os.X_OK), "%s is missing (run make)" % path
        lacks = check_program(path)
        if lacks:
            found[program] = lacks
    assert not found, "built without hardening: %r" % found


async def test_the_check_sees_an_unhardened_program():
    """The check itself can fail: a program built without any of the
    flags is found lacking every one."""
    assert shutil.which("cc"), "no C compiler"
    with tempfile.TemporaryDirectory(dir=CONFIG.tmp_root) as folder:
        source = os.path.join(folder, "probe.c")
        with open(source, "w", encoding="utf-8") as probe:
            probe.write('#include <stdio.h>\nint main (int argc, char **argv)\n'
                        '{ char line [64]; snprintf (line, sizeof line, "%s", argv [0]);\n'
                        '  return puts (line) < 0 || argc < 0; }\n')
        plain = os.path.join(folder, "probe")
        done = subprocess.run(["cc", "-O2", "-fno-stack-protector", "-U_FORTIFY_SOURCE",
                               "-no-pie", "-Wl,-z,norelro,-z,lazy", source, "-o", plain],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        lacks = check_program(plain)
    assert len(lacks) == 5, lacks
