#!/usr/bin/env python3
"""The standing mutation check (make mutants; tests/mutants/README.md).

Usage: run.py --srcdir DIR --scratch DIR [--jobs N] [--trs FILE] [NAME...]

Copies the source tree (without build/ and .git) to SCRATCH/src, builds
it once in SCRATCH/build (configure, make; later runs are incremental),
runs every mutation's tests there unmutated (the baseline: they must
pass), then for each tests/mutants/NAME.mut: applies it to the scratch
copy, builds what it names, runs only its tests, and puts the file back.
A mutation is killed when one of its tests fails. It survives when they
all pass; it is an error when its text is not found exactly once in its
file (the code changed: update the .mut) or the mutated copy does not
build. The source tree itself is never written.

A .mut file: "# comment" lines, then "key: value" lines (file: the source
file; tests: make check TESTS; build: make targets to build first, e.g.
all; root: yes when it can only be killed as root), then one or more
pairs of blocks
    --- find
    exact text (one or more lines; the last newline is not part of it),
    found exactly once in the file
    --- replace
    its replacement
and a last line "--- end".

Prints TAP (one result per mutation, killed = ok) and, with --trs, writes
automake's :test-result: lines for tools/test.sh to count. Exits 1 if a
mutation survived or could not be tried.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DIRTY = ".mutated"  # in SCRATCH: the file a mutation left (run interrupted)


class MutError(Exception):
    pass


def parse_mut(path):
    meta, pairs, block, cur = {}, [], None, []
    find = None
    with open(path) as f:
        lines = f.read().split("\n")
    for ln in lines:
        if ln in ("--- find", "--- replace", "--- end"):
            text = "\n".join(cur)
            if block == "find":
                find = text
            elif block == "replace":
                pairs.append((find, text))
            elif block is not None:
                raise MutError("%s: block %r" % (path, block))
            if ln == "--- end":
                block = "end"
                break
            block, cur = ln[4:], []
            continue
        if block is None:
            if ln.startswith("#") or not ln.strip():
                continue
            if ":" not in ln:
                raise MutError("%s: not 'key: value': %r" % (path, ln))
            k, v = ln.split(":", 1)
            meta[k.strip()] = v.strip()
        else:
            cur.append(ln)
    if block != "end" or not pairs:
        raise MutError("%s: no '--- find' ... '--- end' blocks" % path)
    for k in ("file", "tests"):
        if not meta.get(k):
            raise MutError("%s: no %s:" % (path, k))
    meta["pairs"] = pairs
    meta["name"] = os.path.basename(path)[:-4]
    return meta


def apply(text, pairs, where):
    for find, repl in pairs:
        n = text.count(find)
        if n != 1:
            raise MutError("%s: the text to mutate is found %d times, not once "
                           "(the code changed: update the .mut):\n%s" % (where, n, find))
        text = text.replace(find, repl)
    return text


def sh(cmd, cwd, log, timeout=None, env=None):
    with open(log, "a") as out:
        out.write("$ %s\n" % " ".join(cmd))
        out.flush()
        try:
            return subprocess.call(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            out.write("timed out after %s s\n" % timeout)
            return 124


def sync(srcdir, scratch):
    """SCRATCH/src := the source tree. Only a file whose content differs is
    copied, and it gets the current time: an object built from a mutation
    (or from an older version) is then always older than its source, and
    make stays incremental for the rest."""
    dst = os.path.join(scratch, "src")
    skip_top = {"build", "build-fuzz", ".git"}
    for root, dirs, files in os.walk(srcdir):
        rel = os.path.relpath(root, srcdir)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in skip_top]
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            s, d = os.path.join(root, f), os.path.join(dst, rel, f)
            if os.path.islink(s):
                if not os.path.lexists(d):
                    os.symlink(os.readlink(s), d)
                continue
            if os.path.exists(d) and os.path.getsize(d) == os.path.getsize(s):
                with open(s, "rb") as a, open(d, "rb") as b:
                    if a.read() == b.read():
                        continue
            shutil.copyfile(s, d)
            shutil.copymode(s, d)
    # A mutated file left by an interrupted run differs from the source:
    # it was copied back above, with a new mtime.
    dirty = os.path.join(scratch, DIRTY)
    if os.path.exists(dirty):
        os.unlink(dirty)
    return dst


def stem(build, t):
    """The test's log and result files without their extension: automake
    drops a registered extension (tests/x.sh: tests/x.log, tests/x.trs)."""
    return os.path.join(build, t[:-3] if t.endswith(".sh") else t)


def results(build, tests):
    """(failed, passed) checks of the tests' .trs files; None if one is missing."""
    failed = passed = 0
    for t in tests:
        trs = stem(build, t) + ".trs"
        if not os.path.exists(trs):
            return None
        for ln in open(trs):
            if ln.startswith(":test-result: "):
                r = ln.split()[1]
                if r in ("FAIL", "ERROR", "XPASS"):
                    failed += 1
                elif r in ("PASS", "XFAIL"):
                    passed += 1
    return failed, passed


def failing(build, tests):
    """The tests whose .trs is missing or records a failure, each with
    its failed checks (the log's "not ok" lines and what follows them)."""
    out = []
    for t in tests:
        r = results(build, [t])
        if r is not None and r[0] == 0:
            continue
        lines, keep = [], 0
        log = stem(build, t) + ".log"
        if os.path.exists(log):
            for ln in open(log, errors="replace"):
                if ln.startswith("not ok"):
                    keep = 4
                if keep:
                    lines.append(ln.rstrip())
                    keep -= 1
        out.append((t, "no result" if r is None else "%d failed" % r[0], lines[:24]))
    return out


def make_targets(build, targets, jobs, log):
    """make all first, then the other targets: in one parallel make, all
    and a program of its own would both relink libnymcommon.la at once."""
    rc = 0
    if "all" in targets:
        rc = sh(["make", "-j%d" % jobs, "all"], build, log)
    rest = [t for t in targets if t != "all"]
    if rc == 0 and rest:
        rc = sh(["make", "-j%d" % jobs] + rest, build, log)
    return rc


def run_tests(build, tests, jobs, log, first_failure=False):
    """Each test through automake's own rule for its .log (driver and
    environment as in make check), which builds a compiled test's program
    and nothing else (check-TESTS would relink every test program). One at
    a time: several at once on a small machine make the timing tests
    (rates, delays) fail for the wrong reason. With first_failure (a
    mutation: one failed check kills it), a shell test stops at its first
    failed check (NYMD_TEST_FAILFAST, tests/integration/lib.sh) and the
    tests after the first that failed are not run."""
    for t in tests:
        for ext in (".log", ".trs"):
            p = stem(build, t) + ext
            if os.path.exists(p):
                os.unlink(p)
    ran = []
    for t in tests:
        env = dict(os.environ)
        if first_failure:
            env["NYMD_TEST_FAILFAST"] = "1"
        sh(["make", os.path.relpath(stem(build, t) + ".log", build)], build, log,
           timeout=900, env=env)
        ran.append(t)
        if first_failure:
            r = results(build, [t])
            if r is None or r[0] > 0:
                break
    return results(build, ran)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--trs")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    srcdir, scratch = os.path.abspath(a.srcdir), os.path.abspath(a.scratch)
    t_start = time.time()

    paths = sorted(glob.glob(os.path.join(HERE, "*.mut")))
    if a.names:
        paths = [os.path.join(HERE, n + ".mut") for n in a.names]
    muts, bad = [], []
    for p in paths:
        try:
            muts.append(parse_mut(p))
        except (MutError, OSError) as e:
            bad.append((os.path.basename(p)[:-4], str(e)))
    root = os.geteuid() == 0
    print("1..%d" % (len(muts) + len(bad)), flush=True)
    n, trs = 0, []

    def report(ok, name, text):
        nonlocal n
        n += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", n, text), flush=True)
        res = "SKIP" if ok and "# SKIP" in text else ("PASS" if ok else "FAIL")
        trs.append(":test-result: %s %s" % (res, name))

    for name, why in bad:
        report(False, name, "%s: cannot be read: %s" % (name, why))

    os.makedirs(scratch, exist_ok=True)
    log = os.path.join(scratch, "mutants.log")
    open(log, "w").close()
    src = sync(srcdir, scratch)
    build = os.path.join(scratch, "build")
    os.makedirs(build, exist_ok=True)
    t0 = time.time()
    if not os.path.exists(os.path.join(src, "configure")):
        sh(["./autogen.sh"], src, log)
    if not os.path.exists(os.path.join(build, "Makefile")):
        if sh([os.path.join(src, "configure")], build, log) != 0:
            print("# configure failed: see %s" % log)
            return 1
    if sh(["make", "-j%d" % a.jobs], build, log) != 0:
        print("# the unmutated copy does not build: see %s" % log)
        return 1
    # Everything any mutation builds, then the baseline.
    targets = sorted({t for m in muts for t in m.get("build", "").split()} - {"all"})
    tests = sorted({t for m in muts for t in m["tests"].split()})
    if make_targets(build, targets, a.jobs, log) != 0:
        print("# the unmutated copy does not build %s: see %s" % (" ".join(targets), log))
        return 1
    t1 = time.time()
    r = run_tests(build, tests, a.jobs, log)
    print("# baseline: build %.0f s; %d tests unmutated in %.0f s: %s failed, %s passed"
          % (t1 - t0, len(tests), time.time() - t1, r and r[0], r and r[1]), flush=True)
    if r is None or r[0] != 0:
        # Named, with their failed checks, then run once more: a test that
        # passes the second time is reported as flaky and the run goes on
        # (one flake must not hide every mutation's result).
        bad = failing(build, tests)
        for t, what, lines in bad:
            print("# baseline: %s: %s" % (t, what))
            print("\n".join("#   " + x for x in lines))
        again = [t for t, _, _ in bad]
        r2 = run_tests(build, again, a.jobs, log)
        if r2 is not None and r2[0] == 0:
            print("# baseline: FLAKY, passed when run again: %s" % " ".join(again),
                  flush=True)
            r = r2
    if r is None or r[0] != 0:
        print("# the tests do not pass unmutated (%s): see %s and %s/*.log"
              % (r, log, build))
        for m in muts:
            report(False, m["name"], "%s: not tried, the baseline fails" % m["name"])
        write_trs(a.trs, trs)
        return 1

    for m in muts:
        name, rel = m["name"], m["file"]
        tests = m["tests"].split()
        if m.get("root") == "yes" and not root:
            report(True, name, "%s # SKIP killed only as root (%s)" % (name, " ".join(tests)))
            continue
        path = os.path.join(src, rel)
        t1 = time.time()
        try:
            with open(path) as f:
                orig = f.read()
            mutated = apply(orig, m["pairs"], rel)
        except (MutError, OSError) as e:
            report(False, name, "%s: cannot be applied: %s" % (name, str(e).split("\n")[0]))
            print("\n".join("# " + x for x in str(e).split("\n")[1:]))
            continue
        with open(os.path.join(scratch, DIRTY), "w") as f:
            f.write(rel)
        try:
            with open(path, "w") as f:
                f.write(mutated)
            with open(log, "a") as f:
                f.write("\n==== %s: %s\n" % (name, rel))
            # A shell test runs the programs: all of them and every test
            # tool are rebuilt (a tool linked against an earlier mutation
            # must not stay). A compiled test is rebuilt by check-TESTS.
            build_targets = m.get("build", "").split()
            if any(t.endswith(".sh") for t in tests):
                build_targets = ["all"] + targets
            rc = make_targets(build, build_targets, a.jobs, log)
            if rc != 0:
                report(False, name, "%s: the mutated copy does not build (see %s)" % (name, log))
                continue
            r = run_tests(build, tests, a.jobs, log, first_failure=True)
        finally:
            with open(path, "w") as f:
                f.write(orig)
            os.utime(path)  # newer than the mutated objects: rebuilt next time
            os.unlink(os.path.join(scratch, DIRTY))
        secs = time.time() - t1
        if r is None:
            report(False, name, "%s: its tests did not run (%s; see %s)" % (name, " ".join(tests), log))
        elif r[0] > 0:
            report(True, name, "%s killed by %s (%d failed, %.0f s)" % (name, " ".join(tests), r[0], secs))
        else:
            report(False, name, "%s SURVIVED %s (%d passed, %.0f s)" % (name, " ".join(tests), r[1], secs))
    write_trs(a.trs, trs)
    failed = sum(1 for x in trs if ":test-result: FAIL" in x)
    print("# %d mutations, %d not killed, %.0f s in all" % (len(trs), failed, time.time() - t_start))
    return 1 if failed else 0


def write_trs(path, lines):
    if path:
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MutError as e:
        print("Bail out! %s" % e)
        sys.exit(1)
