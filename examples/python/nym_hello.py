#!/usr/bin/env python3
"""A command-line client of nymd on the nym module (python3-nym): the
standard library only, over nymd's unix or TCP socket.

Usage:
  nym_hello.py (--id ID [--home DIR] | --socket PATH | --tcp HOST:PORT) details
  nym_hello.py ... clients
  nym_hello.py ... send RECIPIENT_ID TEXT
  nym_hello.py ... fetch [--wait SECONDS]
  nym_hello.py ... watch [--interval SECONDS]

Errors are printed as nymd or the module says them, exit status 1.
"""
import argparse
import sys
import time

import nym


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--id", help="the client's id, as for nymd run --id")
    where.add_argument("--socket", help="nymd's unix socket")
    where.add_argument("--tcp", help="nymd socket --socket tcp at HOST:PORT")
    p.add_argument("--home", help="ROOT for --id (default $NYMD_HOME, else ~/.loopix)")
    p.add_argument("--timeout", type=float, default=30, help="seconds per request")
    p.add_argument("--wait", type=float, default=0,
                   help="fetch: poll until a message comes or this many seconds pass")
    p.add_argument("--interval", type=float, default=nym.WATCH_INTERVAL,
                   help="watch: seconds between polls that found nothing")
    p.add_argument("command", choices=["details", "clients", "send", "fetch", "watch"])
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    if a.home and not a.id:
        p.error("--home goes with --id")
    try:
        with nym.connect(a.id, home=a.home, path=a.socket, tcp=a.tcp, timeout=a.timeout) as c:
            if a.command == "details":
                d = c.details()
                print("id: " + d.id)
                if d.provider is not None:
                    print("provider: %s %s:%s" % (d.provider.id, d.provider.host, d.provider.port))
            elif a.command == "clients":
                for cl in c.clients():
                    print(cl.id, cl.provider.id if cl.provider else "-")
            elif a.command == "send":
                if len(a.args) != 2:
                    p.error("send RECIPIENT_ID TEXT")
                c.send_id(a.args[0], a.args[1].encode())   # the provider from the topology
                print("sent")
            elif a.command == "fetch":
                deadline = time.monotonic() + a.wait
                msgs = c.fetch()
                while not msgs and time.monotonic() < deadline:
                    time.sleep(0.2)
                    msgs = c.fetch()
                for m in msgs:
                    print("message: " + m.decode("utf-8", "replace"))
            else:
                for m in c.watch(interval=a.interval):
                    print("message: " + m.decode("utf-8", "replace"), flush=True)
    except nym.NymError as e:
        print("nym_hello: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
