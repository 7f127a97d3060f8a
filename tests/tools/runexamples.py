#!/usr/bin/env python3
"""runexamples.py SRCDIR BUILDDIR WORKDIR: runs the EXAMPLES of the man
pages and the README's first session as written, and prints TAP.

Run it in a network namespace of its own (tests/integration/examples-as-
written.sh: unshare -n), where the examples' fixed ports (8080, 1789,
1790, 9001) are free.  Each "$ command" line of a page's literal blocks is
run by sh (continuation lines joined); a line of the block that follows it
and is not a command is output the command must print, where keys match
any key, ports any port and the README's /home/you/.loopix the test's
home.  Commands that keep running (daemons, watch, a trailing &) run in
the background: they must still be running 2 s later (and print what the
page shows), and are stopped by process group when their page is done.
"# command" blocks (root: systemd, network namespaces) are tested
elsewhere and reported as skipped.

What is not on the pages, and is set up here (each page is read as its
reader would be): the build's programs first on PATH; HOME and NYMD_HOME
in the work directory, a fresh NYMD_HOME for each page; the directory,
mixnode and provider of nym-directory(8), nym-mixnode(8) and
nym-provider(8) keep running for the pages after them; nymctl(1)'s
clients alice, bob and carol exist (nymd init --local: the local
directory) and run, carol on TCP port 9001 (the page's "watch" line),
with mixnodes in layers 2 and 3 beside the page's in layer 1; its example
key of bob is bob's real key; the /tmp/tn of nym-testnet(1) and of the
README is a directory of the work directory. A sender tag a page shows
stands for the one the daemon printed in its place, and a fetch whose
output a page shows is repeated (for up to 30 s) until that output came.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

SRC, BUILD, WORK = sys.argv[1:4]
KEY = re.compile(r"[A-Za-z0-9_-]{43}=")
TAG = re.compile(r"[0-9a-f]{32}")	# a sender tag, as nymctl fetch --tags prints it
n = 0
failed = 0
background = []


def tap(ok, desc, diag=()):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, desc), flush=True)
    for d in diag:
        print("# " + d, flush=True)


def demdoc(s):
    return (s.replace("\\e", "\\").replace("\\-", "-").replace("\\(aq", "'")
            .replace("\\&", ""))


def blocks(path):
    """The literal blocks of a man page, or the fenced ones of markdown,
    as lists of lines."""
    out, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if path.endswith(".md"):
                if line.startswith("```"):
                    if cur is None:
                        cur = []
                    else:
                        out.append(cur)
                        cur = None
                elif cur is not None:
                    cur.append(line)
                continue
            if line.startswith(".Bd -literal"):
                cur = []
            elif line.startswith(".Ed") and cur is not None:
                out.append(cur)
                cur = None
            elif cur is not None:
                cur.append(demdoc(line))
    return out


def unclosed(cmd):
    """The command's quotes continue on the next line."""
    try:
        shlex.split(cmd)
        return False
    except ValueError:
        return True


def commands(block):
    """(prompt, command, expected lines) of a block."""
    out, i = [], 0
    while i < len(block):
        line = block[i]
        m = re.match(r"^([$#]) (.*)$", line)
        i += 1
        if not m:
            continue
        cmd = m.group(2)
        while i < len(block):
            if cmd.endswith("\\"):
                cmd = cmd[:-1].rstrip() + " " + block[i].strip()
            elif unclosed(cmd):
                cmd = cmd + "\n" + block[i]
            else:
                break
            i += 1
        expect = []
        while i < len(block) and not re.match(r"^[$#] ", block[i]):
            expect.append(block[i])
            i += 1
        while expect and expect[-1].strip() == "":
            expect.pop()
        out.append((m.group(1), cmd, expect))
    return out


def shape(line, home):
    """A regular expression for an expected output line."""
    line = line.replace("/home/you/.loopix", "\0HOME\0")
    parts = []
    for tok in re.split(r"(\0HOME\0|[A-Za-z0-9_-]{43}=|\b[0-9a-f]{32}\b|:[0-9]+\b)", line):
        if tok == "\0HOME\0":
            parts.append(re.escape(home))
        elif KEY.fullmatch(tok):
            parts.append(KEY.pattern)
        elif TAG.fullmatch(tok):
            parts.append(TAG.pattern)
        elif re.fullmatch(r":[0-9]+", tok):
            parts.append(r":[0-9]+")
        else:
            parts.append(re.escape(tok))
    return "^" + "".join(parts) + "$"


def shows(out, expect, home):
    """The expected lines appear in out, in order; the missing one or None."""
    lines = out.splitlines()
    at = 0
    for e in expect:
        rx = re.compile(shape(e, home))
        while at < len(lines) and not rx.match(lines[at]):
            at += 1
        if at == len(lines):
            return e
        at += 1
    return None


def learn_tags(out, expect, subs):
    """The sender tags the page shows stand for those the daemon printed:
    each example tag becomes the real tag of the line it matched."""
    lines = out.splitlines()
    for e in expect:
        m = TAG.search(e)
        if not m:
            continue
        rx = re.compile(shape(e, ""))
        for ln in lines:
            if rx.match(ln):
                subs.append((m.group(0), TAG.search(ln).group(0)))
                break


def keeps_running(cmd):
    return (cmd.endswith("&") or " watch" in cmd or
            re.search(r"\bnymd (run|socket)\b", cmd) is not None or
            re.search(r"\bnym-(mixnode|provider) run\b", cmd) is not None or
            re.match(r"^nym-directory( |$)", cmd) is not None)


def env_for(home):
    env = dict(os.environ)
    env["PATH"] = ":".join([os.path.join(BUILD, "src"),
                            os.path.join(BUILD, "src", "nymctl"), env["PATH"]])
    env["HOME"] = os.path.join(WORK, "home")
    env["NYMD_HOME"] = home
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        env.pop(k, None)
    return env


def start(cmd, env, log):
    cmd = cmd[:-1].rstrip() if cmd.endswith("&") else cmd
    f = open(log, "w")
    p = subprocess.Popen(["sh", "-c", "exec " + cmd], env=env, stdout=f,
                         stderr=subprocess.STDOUT, start_new_session=True)
    background.append(p)
    return p


def stop(procs):
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def wait_until(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def sub(cmd, subs):
    for a, b in subs:
        cmd = cmd.replace(a, b)
    return cmd


def run_page(title, path, home, subs=None, first_block_only=False, setup=None):
    subs = [] if subs is None else subs
    os.makedirs(home, exist_ok=True)
    env = env_for(home)
    if setup:
        setup(env)
    mine = []
    for bi, block in enumerate(blocks(path)):
        if first_block_only and bi > 0:
            break
        sourced = []
        for k, (prompt, cmd, expect) in enumerate(commands(block)):
            desc = "%s: %s" % (title, cmd if len(cmd) < 70 else cmd[:67] + "...")
            if prompt == "#":
                tap(True, desc + " # SKIP a root example (systemd or network "
                    "namespaces), tested by the package and netns tests")
                continue
            real = sub(cmd, subs)
            if real.startswith(". "):
                sourced.append(real)
                tap(os.path.exists(real[2:].strip().strip('"')), desc)
                continue
            full = "; ".join(sourced + [real])
            if keeps_running(real):
                # Another daemon of the same client: the reader stopped
                # the one before (one daemon per client).
                cid = re.search(r"--id (\S+)", real)
                if cid:
                    same = [q for q, c in mine if cid.group(0) in c and
                            re.search(r"\bnymd (run|socket)\b", c)]
                    stop(same)
                log = os.path.join(WORK, "bg-%d.log" % (len(background) + 1))
                p = start(full, env, log)
                mine.append((p, real))
                time.sleep(2)
                alive = p.poll() is None
                missing = None
                if expect:
                    wait_until(lambda: shows(open(log).read(), expect, home) is None, 10)
                    missing = shows(open(log).read(), expect, home)
                diag = [] if alive and missing is None else \
                    (["exited with %s" % p.returncode] if not alive else []) + \
                    (["missing: " + missing] if missing else []) + \
                    ["log: " + x for x in open(log).read().splitlines()[-8:]]
                tap(alive and missing is None, desc + " (keeps running)", diag)
                continue
            # A fetch whose output the page shows is repeated, its output
            # gathered, until that output came: the messages take a
            # while through the mixnet.
            retry = expect and re.search(r"\bfetch\b", real) is not None
            end = time.time() + 30
            got = ""
            while True:
                r = subprocess.run(["sh", "-c", full], env=env, capture_output=True,
                                   text=True, timeout=60)
                got += r.stdout
                missing = shows(got, expect, home) if expect else None
                if not retry or missing is None or r.returncode != 0 or time.time() > end:
                    break
                time.sleep(0.5)
            ok = r.returncode == 0 and missing is None
            if ok:
                learn_tags(got, expect, subs)
            diag = [] if ok else (["exit status %d" % r.returncode] +
                                  (["missing: " + missing] if missing else []) +
                                  ["out: " + x for x in got.splitlines()[-6:]] +
                                  ["err: " + x for x in r.stderr.splitlines()[-6:]])
            tap(ok, desc, diag)
    return [q for q, _ in mine]


def topology():
    try:
        with urllib.request.urlopen("http://127.0.0.1:8080/api/presence/topology",
                                    timeout=2) as r:
            return json.load(r)
    except (OSError, ValueError):
        return {}


def pubkey(env, cid):
    """The client's key, as nymctl details prints it."""
    r = subprocess.run(["nymctl", "--id", cid, "details"], env=env,
                       capture_output=True, text=True, timeout=30)
    m = re.search(r"^id: (\S+)$", r.stdout, re.M)
    return m.group(1) if m else "no-key-for-" + cid


def main():
    man = os.path.join(SRC, "man")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.makedirs(os.path.join(WORK, "home"), exist_ok=True)
    nodes = run_page("nym-directory(8)", os.path.join(man, "nym-directory.8"),
                     os.path.join(WORK, "h-directory"))
    nodes += run_page("nym-mixnode(8)", os.path.join(man, "nym-mixnode.8"),
                      os.path.join(WORK, "h-mixnode"))
    nodes += run_page("nym-provider(8)", os.path.join(man, "nym-provider.8"),
                      os.path.join(WORK, "h-provider"))
    tap(wait_until(lambda: len(topology().get("MixNodes", [])) == 1 and
                   len(topology().get("MixProviderNodes", [])) == 1, 15),
        "the mixnode and the provider of the pages are in the directory's topology")

    tn_readme = os.path.join(WORK, "tn-readme")
    stop(run_page("README.md", os.path.join(SRC, "README.md"),
                  os.path.join(WORK, "h-readme"), subs=[("/tmp/tn", tn_readme)]))
    if os.path.exists(os.path.join(tn_readme, "testnet.env")):
        subprocess.run(["nym-testnet", "down", "--dir", tn_readme],
                       env=env_for(WORK), capture_output=True)
    stop(run_page("nymd(8)", os.path.join(man, "nymd.8"), os.path.join(WORK, "h-nymd")))

    ctl_home = os.path.join(WORK, "h-nymctl")
    premise = []

    def ctl_setup(env):
        # A mixnode in layers 2 and 3 besides nym-mixnode(8)'s in layer 1,
        # so that the page's messages and replies have paths.
        for i in (2, 3):
            subprocess.run(["nym-mixnode", "init", "--id", "mix%d" % i, "--port",
                            str(1789 + i), "--layer", str(i), "--directory",
                            "http://127.0.0.1:8080"], env=env, check=True,
                           capture_output=True)
            premise.append(start("nym-mixnode run --id mix%d" % i, env,
                                 os.path.join(WORK, "premise-mix%d.log" % i)))
        wait_until(lambda: len(topology().get("MixNodes", [])) == 3, 30)
        for c in ("alice", "bob", "carol"):
            subprocess.run(["nymd", "init", "--id", c, "--local"], env=env, check=True,
                           capture_output=True)
        for c, args in (("alice", ["run", "--id", "alice"]), ("bob", ["run", "--id", "bob"]),
                        ("carol", ["socket", "--id", "carol", "--socket", "tcp",
                                   "--port", "9001"])):
            premise.append(start("nymd " + " ".join(args), env,
                                 os.path.join(WORK, "premise-%s.log" % c)))
        # Up when each has its topology (its clients list answers).
        wait_until(lambda: all(subprocess.run(["nymctl", "--id", c, "clients"], env=env,
                                              capture_output=True).returncode == 0
                               for c in ("alice", "bob")), 30)
    bob_example = "u7UTjC3UNXdz0HsjMKoxozzbvXyi3KrEvl8BxNNPcAM="
    os.makedirs(ctl_home, exist_ok=True)
    subs = []

    def ctl_setup_then_key(env):
        ctl_setup(env)
        subs.append((bob_example, pubkey(env, "bob")))
    stop(run_page("nymctl(1)", os.path.join(man, "nymctl.1"), ctl_home,
                  subs=subs, setup=ctl_setup_then_key))
    stop(premise)
    stop(nodes)

    tn = os.path.join(WORK, "tn")
    stop(run_page("nym-testnet(1)", os.path.join(man, "nym-testnet.1"),
                  os.path.join(WORK, "h-testnet"), subs=[("/tmp/tn", tn)]))
    if os.path.exists(os.path.join(tn, "testnet.env")):
        subprocess.run(["nym-testnet", "down", "--dir", tn], env=env_for(WORK),
                       capture_output=True)
    print("1..%d" % n)
    stop(background)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop(background)
