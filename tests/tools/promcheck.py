#!/usr/bin/env python3
"""promcheck.py: reads a Prometheus text exposition (format 0.0.4) on
standard input; fails, saying why, unless every line is a HELP, a TYPE
or a sample, every sample's metric has exactly one TYPE before it (a
summary's NAME_sum and NAME_count that of NAME), names and labels are
well formed, values are numbers and no series repeats.
Prints the samples as "name{labels} value", one a line."""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def main():
    typed, helped, seen, out = {}, set(), set(), []
    for no, line in enumerate(sys.stdin.read().split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if not re.fullmatch(NAME, name) or name in helped:
                sys.exit("line %d: bad or repeated HELP: %r" % (no, line))
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in TYPES or parts[2] in typed:
                sys.exit("line %d: bad or repeated TYPE: %r" % (no, line))
            typed[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            sys.exit("line %d: not a sample: %r" % (no, line))
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        # A summary's or histogram's samples: NAME_sum, NAME_count
        # (and a histogram's NAME_bucket) under NAME's TYPE.
        base = name
        for suffix in ("_sum", "_count", "_bucket"):
            if name.endswith(suffix) and \
                    typed.get(name[:-len(suffix)]) in ("summary", "histogram"):
                base = name[:-len(suffix)]
        if base not in typed:
            sys.exit("line %d: %s has no TYPE before it" % (no, name))
        try:
            v = float(value)
        except ValueError:
            sys.exit("line %d: not a number: %r" % (no, value))
        if typed[base] == "counter" and v < 0:
            sys.exit("line %d: a negative counter" % no)
        if (name, labels) in seen:
            sys.exit("line %d: %s%s repeats" % (no, name, labels))
        seen.add((name, labels))
        out.append("%s%s %s" % (name, labels, value))
    if not out:
        sys.exit("no samples")
    print("\n".join(out))


main()
