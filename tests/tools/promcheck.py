#!/usr/bin/env python3
"""promcheck.py < TEXT: checks the Prometheus text exposition format
(version 0.0.4) as the metrics endpoints write it: every sample's metric
has one HELP and one TYPE line before it, types are counter, gauge or
summary (a summary's samples are NAME_sum and NAME_count), names are
valid, values are numbers (counters non-negative), no sample twice.
Exits 1 naming the first problem."""
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")


def fail(n, why):
    print("line %d: %s" % (n, why), file=sys.stderr)
    sys.exit(1)


def main():
    helps, types, seen = set(), {}, set()
    lines = sys.stdin.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        fail(0, "empty")
    for n, line in enumerate(lines, 1):
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not NAME.match(parts[2]) or parts[2] in helps:
                fail(n, "bad or repeated HELP")
            helps.add(parts[2])
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or not NAME.match(parts[2]) or parts[2] in types:
                fail(n, "bad or repeated TYPE")
            if parts[3] not in ("counter", "gauge", "summary"):
                fail(n, "unknown type %s" % parts[3])
            if parts[2] not in helps:
                fail(n, "TYPE before its HELP")
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not NAME.match(parts[0]):
            fail(n, "not 'name value': %r" % line)
        name, value = parts
        base = name
        for suffix in ("_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "summary":
                base = name[:-len(suffix)]
        if base not in types:
            fail(n, "%s has no TYPE" % name)
        try:
            v = float(value)
        except ValueError:
            fail(n, "%s: not a number: %s" % (name, value))
        if types[base] == "counter" and v < 0:
            fail(n, "%s: a negative counter" % name)
        if name in seen:
            fail(n, "%s twice" % name)
        seen.add(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
