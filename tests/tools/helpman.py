#!/usr/bin/env python3
"""helpman.py MANPAGE COMMAND... : compares the options a program's help
prints with those its man page documents.

The man page's options are the Fl macros of its SYNOPSIS and of its list
items (.It Fl ...), where mdoc documents options; prose that mentions
another program's options is not counted.  The help's options are every
-x or --name word the commands print (each COMMAND is one shell-split
command line, e.g. "nymd help run").  Prints each difference and exits 1
if there is one, 0 if both name the same options."""
import re
import shlex
import subprocess
import sys

MACROS = set("Ar Op Oc Oo Ns Cm Fl Xo Xc Pq Ql Dq Sq Li Ev Pa No Ic Nm "
             "Em Sy Va Dv Bro Brc".split())
OPTION = re.compile(r"--?[A-Za-z][A-Za-z0-9-]*")


def man_options(path):
    opts, section = set(), ""
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(".Sh "):
                section = line[4:].strip()
            if not line.startswith("."):
                continue
            toks = line[1:].split()
            if section != "SYNOPSIS" and toks[:1] != ["It"]:
                continue
            for i, t in enumerate(toks[:-1]):
                if t != "Fl" or toks[i + 1] in MACROS:
                    continue
                o = "-" + toks[i + 1].rstrip(",.;:|)")
                if OPTION.fullmatch(o):
                    opts.add(o)
    return opts


def help_options(commands):
    opts = set()
    for c in commands:
        p = subprocess.run(shlex.split(c), capture_output=True, text=True)
        if p.returncode != 0:
            print("# %s: exit status %d" % (c, p.returncode))
            sys.exit(2)
        opts |= set(re.findall(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9-]*)", p.stdout))
    return opts


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    man, helps = man_options(sys.argv[1]), help_options(sys.argv[2:])
    if not man:
        print("# %s: no options found" % sys.argv[1])
        return 2
    bad = 0
    for o in sorted(man - helps):
        print("# in the man page, not in --help: %s" % o)
        bad = 1
    for o in sorted(helps - man):
        print("# in --help, not in the man page: %s" % o)
        bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
