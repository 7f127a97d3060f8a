#!/usr/bin/env python3
"""Finds TAP results in shell tests that cannot fail (tests/integration/okscan.sh).

Usage: okscan.py FILE...

A shell test reports a pass with `ok DESC` (tests/integration/lib.sh), or
with `echo "ok N - DESC"` in a few drivers. Such a pass means something
only if the same place could have said `not ok`. Every `ok` is accepted
when one of these holds, and reported otherwise:
  - it is the last part of an and-or list (`cond && ok DESC`): when cond
    fails nothing is printed and the plan's count fails the test;
  - an if, case, while or until block around it (inside the same function)
    also says `not_ok` (`if cond; then ok; else not_ok; fi`);
  - it follows, at the same level, a guard: an if block that says `not_ok`
    and leaves (exit, return, continue or break);
  - it is a skip (`# SKIP` in its text) under any if/case/while/until or
    and-or list. A function whose only results are unconditional skips
    (e.g. `skip() { ...; echo "ok ... # SKIP $2"; }`) makes each of its
    calls a skip, judged the same way.
  - `ok` and `check` are lib.sh's own definitions.
Also reported: `check DESC true` or `check DESC :`, a check of nothing.
A result that names itself a positive control ("positive control: ...")
must come from `check` or an accepted `ok`; each is listed
("positive control, can fail: FILE:LINE: DESC").

Prints one line per finding, "FILE:LINE: why", then a summary line
"scanned F files: R results, P positive controls, N unconditional";
exits 1 if anything was found.
"""
import re
import sys

OPS = ("&&", "||", ";;", ";", "|", "&", "(", ")", "\n")
RESERVED_OPEN = {"if": "if", "case": "case", "while": "while", "until": "while",
                 "for": "for", "{": "brace"}
LEAVE = {"exit", "return", "continue", "break"}


class Tok:
    def __init__(self, kind, text, line):
        self.kind, self.text, self.line = kind, text, line

    def __repr__(self):
        return "%s(%r)@%d" % (self.kind, self.text, self.line)


def unquote(w):
    out, i, q = [], 0, None
    while i < len(w):
        c = w[i]
        if q is None and c in "'\"":
            q = c
        elif c == q:
            q = None
        elif c == "\\" and q != "'" and i + 1 < len(w):
            i += 1
            out.append(w[i])
        else:
            out.append(c)
        i += 1
    return "".join(out)


def tokenize(src):
    """Words and operators of a shell script; heredoc bodies and comments
    are skipped, quoted strings and $(...) stay inside their word."""
    toks, i, n, line = [], 0, len(src), 1
    heredocs = []  # (delimiter, strip tabs) waiting for the next newline
    word, wline = [], 1

    def flush():
        if word:
            toks.append(Tok("w", "".join(word), wline))
            word.clear()

    def skip_balanced(j):
        # src[j] is just after "$(" or "$((": to the matching ")"
        depth, q = 1, None
        while j < n and depth:
            c = src[j]
            if q:
                if c == "\\" and q == '"':
                    j += 1
                elif c == q:
                    q = None
            elif c in "'\"`":
                q = c
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            j += 1
        return j

    while i < n:
        c = src[i]
        if c == "\n":
            flush()
            toks.append(Tok("op", "\n", line))
            line += 1
            i += 1
            for delim, strip in heredocs:
                while i < n:
                    end = src.find("\n", i)
                    end = n if end == -1 else end
                    body = src[i:end]
                    i = end + 1
                    line += 1
                    if (body.lstrip("\t") if strip else body) == delim:
                        break
            heredocs = []
            continue
        if c in " \t":
            flush()
            i += 1
            continue
        if c == "#" and not word:
            while i < n and src[i] != "\n":
                i += 1
            continue
        if c == "\\" and i + 1 < n:
            if src[i + 1] == "\n":
                line += 1
                i += 2
                continue
            if not word:
                wline = line
            word.append(src[i:i + 2])
            i += 2
            continue
        if c in "'\"`":
            if not word:
                wline = line
            j = i + 1
            while j < n and src[j] != c:
                if src[j] == "\\" and c != "'":
                    j += 1
                j += 1
            word.append(src[i:j + 1])
            line += src.count("\n", i, j + 1)
            i = j + 1
            continue
        if c == "$" and i + 1 < n and src[i + 1] == "(":
            if not word:
                wline = line
            j = skip_balanced(i + 2)
            word.append(src[i:j])
            line += src.count("\n", i, j)
            i = j
            continue
        if c == "<" and src.startswith("<<", i) and not src.startswith("<<<", i):
            flush()
            j = i + 2
            strip = j < n and src[j] == "-"
            if strip:
                j += 1
            while j < n and src[j] in " \t":
                j += 1
            k = j
            while k < n and src[k] not in " \t\n;|&)":
                k += 1
            heredocs.append((unquote(src[j:k]), strip))
            i = k
            continue
        if c in "<>":
            # a redirection stays one word with its target: 2>&1, >"$f"
            if not word:
                wline = line
            word.append(c)
            i += 1
            if i < n and src[i] in ">&":
                word.append(src[i])
                i += 1
            continue
        if c in ";&|()":
            flush()
            two = src[i:i + 2]
            if two in ("&&", "||", ";;"):
                toks.append(Tok("op", two, line))
                i += 2
            else:
                toks.append(Tok("op", c, line))
                i += 1
            continue
        if not word:
            wline = line
        word.append(c)
        i += 1
    flush()
    return toks


class Block:
    def __init__(self, kind, name=None):
        self.kind, self.name = kind, name
        self.has_not_ok = False
        self.leaves = False
        self.guard = False


class Cmd:
    def __init__(self, path, line, name, args, stack, andor, guard):
        self.path, self.line, self.name, self.args = path, line, name, args
        self.stack, self.andor, self.guard = stack, andor, guard


def parse(path, src, cmds):
    toks = tokenize(src)
    root = Block("root")
    stack = [root]
    cmd_pos, andor, i = True, False, 0
    case_state = None  # "word", "pattern"
    pending_func = None
    while i < len(toks):
        t = toks[i]
        top = stack[-1]
        if t.kind == "op":
            if t.text in ("&&", "||"):
                andor = True
                cmd_pos = True
            elif t.text in (";", "\n", "&", "|"):
                if t.text != "|":
                    andor = False
                cmd_pos = True
            elif t.text == ";;":
                andor, cmd_pos = False, True
                if top.kind == "case":
                    case_state = "pattern"
            elif t.text == "(":
                if (i + 1 < len(toks) and toks[i + 1].text == ")" and i > 0
                        and toks[i - 1].kind == "w"):
                    pending_func = toks[i - 1].text
                    i += 2
                    continue
                stack.append(Block("sub"))
                cmd_pos = True
            elif t.text == ")":
                if top.kind == "sub":
                    stack.pop()
                cmd_pos = False
            i += 1
            continue
        w = t.text
        if top.kind == "case" and case_state == "pattern":
            if w == "esac":
                stack.pop()
                case_state = "pattern" if stack[-1].kind == "case" else None
                cmd_pos = False
                i += 1
                continue
            # the pattern, up to its ")"
            while i < len(toks) and not (toks[i].kind == "op" and toks[i].text == ")"):
                i += 1
            i += 1
            case_state, cmd_pos, andor = "body", True, False
            continue
        if not cmd_pos:
            i += 1
            continue
        if w in ("then", "do", "else", "elif", "!"):
            andor = andor if w == "!" else False
            i += 1
            continue
        if w in ("fi", "done", "esac", "}"):
            want = {"fi": ("if",), "done": ("while", "for"), "esac": ("case",),
                    "}": ("brace", "func")}[w]
            if top.kind in want and len(stack) > 1:
                stack.pop()
                parent = stack[-1]
                if top.kind == "if" and top.has_not_ok and top.leaves:
                    parent.guard = True
                if parent.kind == "case":
                    case_state = "body"
            cmd_pos = False
            i += 1
            continue
        if w in RESERVED_OPEN:
            kind = RESERVED_OPEN[w]
            if kind == "brace" and pending_func is not None:
                stack.append(Block("func", pending_func))
                pending_func = None
            else:
                stack.append(Block(kind))
            if kind == "case":
                # case WORD in
                while i < len(toks) and toks[i].text != "in":
                    i += 1
                case_state = "pattern"
                i += 1
                continue
            if kind == "for":
                while i < len(toks) and toks[i].text != "do":
                    i += 1
                i += 1
                continue
            andor = False
            i += 1
            continue
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w):
            i += 1
            continue
        # a simple command: its words up to the next operator
        args, j = [], i + 1
        while j < len(toks) and toks[j].kind == "w":
            args.append(toks[j].text)
            j += 1
        if j < len(toks) and toks[j].text == "(" and j + 1 < len(toks) and toks[j + 1].text == ")":
            # name() { ...: a function definition, not a call
            pending_func = w
            i = j + 2
            cmd_pos = True
            continue
        name = unquote(w)
        if name == "not_ok" or (name in ("echo", "printf") and args and
                                unquote(args[0]).startswith("not ok")):
            for b in stack:
                b.has_not_ok = True
        if name in LEAVE:
            for b in stack:
                b.leaves = True
        guard = False
        if top.guard and name in ("ok", "echo", "printf"):
            guard = True
        cmds.append(Cmd(path, t.line, name, [unquote(a) for a in args],
                        list(stack), andor, guard))
        if guard and is_result(cmds[-1]):
            top.guard = False
        cmd_pos = False
        i = j


def is_result(c):
    """An ok line: ok DESC, or echo/printf "ok ..."."""
    if c.name == "ok":
        return True
    if c.name in ("echo", "printf") and c.args:
        return re.match(r"^ok( |$)", c.args[0]) is not None
    return False


def text(c):
    return " ".join(c.args)


def func_of(c):
    for b in reversed(c.stack):
        if b.kind == "func":
            return b
    return None


def conds(c):
    """The if/case/while blocks around c, inside its function."""
    out = []
    for b in reversed(c.stack):
        if b.kind == "func":
            break
        if b.kind in ("if", "case", "while"):
            out.append(b)
    return out


def main(paths):
    cmds = []
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            parse(p, f.read(), cmds)
    skip_funcs, findings, results, controls = set(), [], 0, []

    def judge(c, skip):
        """None if c may fail, else why not."""
        if c.andor or c.guard:
            return None
        cs = conds(c)
        if skip:
            return None if cs else "a skip under no condition"
        if any(b.has_not_ok for b in cs):
            return None
        return "an ok under no condition that could say not ok"

    # The functions that emit unconditional skips only.
    for c in cmds:
        f = func_of(c)
        if f is None or not is_result(c) or f.name in ("ok", "not_ok", "check"):
            continue
        if "# SKIP" in text(c) and judge(c, True) is not None:
            skip_funcs.add(f.name)
    for c in cmds:
        f = func_of(c)
        if f is not None and f.name in ("ok", "not_ok"):
            continue
        if c.name == "check":
            results += 1
            if "positive control" in (c.args[0] if c.args else "").lower():
                controls.append("%s:%d: %s" % (c.path, c.line, c.args[0][:100]))
            if len(c.args) >= 2 and c.args[1] in ("true", ":"):
                findings.append("%s:%d: check of nothing (%s)" % (c.path, c.line, c.args[1]))
            continue
        if c.name in skip_funcs:
            why = judge(c, True)
            if why is not None:
                findings.append("%s:%d: %s calls %s, %s" % (c.path, c.line, c.name, c.name, why))
            continue
        if not is_result(c):
            continue
        results += 1
        skip = "# SKIP" in text(c)
        why = judge(c, skip)
        if "positive control" in text(c).lower() and why is None:
            controls.append("%s:%d: %s" % (c.path, c.line, text(c)[:100]))
        if why is None:
            continue
        if skip and f is not None and f.name in skip_funcs:
            continue  # judged at each call
        findings.append("%s:%d: %s: %s" % (c.path, c.line, why, text(c)[:100]))
    for line in controls:
        print("positive control, can fail: " + line)
    for line in findings:
        print(line)
    print("scanned %d files: %d results, %d positive controls, %d unconditional"
          % (len(paths), results, len(controls), len(findings)))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
