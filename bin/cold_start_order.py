"""Writes the linker script that gathers the code every cold start runs.

Reads callgrind profiles (``--demangle=no``) of bootstraps run from spawn to
their first request for an event, keeps the functions of each bootstrap
itself (not of libc or the loader), and prints a linker script placing their
sections in one output section, ``.text.cold_start``, before ``.text``
(``INSERT BEFORE``: the linker's default layout is otherwise kept).

Symbol names carry a hash that changes with the code (legacy mangling's
``17h<16 hex>E``, v0 mangling's crate hashes, LLVM's ``.llvm.<n>`` suffix for
promoted locals, aws-lc's version prefix); each becomes a ``*`` so the script
still matches after unrelated changes. A function the script no longer
matches is laid out as before: a stale script costs speed, never correctness.

    python3 bin/cold_start_order.py BINARY_NAME=PROFILE ... > functions/cold-start.ld
"""

import re
import sys

HEADER = """\
/* The code the functions run from spawn to their first GET /next, gathered
 * in one place so that a cold start maps a few 64 KB windows of the
 * bootstrap instead of touching ~80 spread over all of it (one page fault
 * each). Written by bin/cold-start-order from callgrind profiles; see
 * docs/performance.md, "Cold start". Linked by functions/bootstrap-link.rs
 * in release builds; a pattern that matches nothing is ignored. */
SECTIONS
{
  .text.cold_start :
  {
"""

FOOTER = """\
  }
}
INSERT BEFORE .text;
"""

# What a bare pattern token may hold (lld's and GNU ld's unquoted names).
PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$.]*$")
NAMED = re.compile(r"^(ob|cob|fn|cfn)=\((\d+)\)(?: (.*))?$")


def functions_of(profile, binary):
    """The names of the functions `binary` itself ran, from one callgrind file.

    valgrind names no object (``???``) for code in a section other than
    ``.text``, so in a bootstrap already linked with this script the
    functions of ``.text.cold_start`` come under ``???``; libc's and the
    loader's always have their object's name."""
    objects, names, current, ran = {}, {}, None, set()
    with open(profile, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            match = NAMED.match(line.rstrip("\n"))
            if not match:
                continue
            kind, ident, name = match.groups()
            if kind in ("ob", "cob"):
                if name:
                    objects[ident] = name
                if kind == "ob":
                    current = objects[ident]
            else:
                if name:
                    names[ident] = name
                if kind == "fn" and current is not None and (current.endswith("/" + binary) or current == "???"):
                    ran.add(names[ident])
    return ran


def pattern(name):
    """A glob for the function's section name that survives a rebuild, or None."""
    name = re.sub(r"'\d+$", "", name)  # callgrind's recursion marker
    if not PLAIN.match(name):
        return None
    name = re.sub(r"\.llvm\.\d+$", "*", name)
    if name.startswith("_ZN"):
        name = re.sub(r"17h[0-9a-f]{16}E(\*)?$", "*", name)
    elif name.startswith("_R"):
        name = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name)
    name = re.sub(r"^aws_lc_[0-9_]+_", "aws_lc_*_", name)
    return name


def script(patterns):
    """The linker script for these section-name patterns."""
    body = "".join(f"    *(.text.{p} .text.unlikely.{p})\n" for p in patterns)
    return HEADER + body + FOOTER


def main(args):
    if not args:
        sys.exit(__doc__)
    patterns = set()
    for arg in args:
        binary, _, profile = arg.partition("=")
        ran = functions_of(profile, binary)
        if not ran:
            sys.exit(f"{profile}: no function of {binary} in the profile")
        patterns.update(p for p in map(pattern, ran) if p)
    sys.stdout.write(script(sorted(patterns)))


if __name__ == "__main__":
    main(sys.argv[1:])
