"""make mutate: plants each mutant of tests/mutate/mutants in a copy of the
tree, one at a time, and asks the tests whether they notice.

A mutant is a small bug a person could write: an exact original text in
one file and its replacement.  Each is judged by the fastest suite that
should catch it: the unit tests first, then the integration tests named
for it.  Verdicts:

  killed        a suite failed (or the build refused the mutant's code:
                "killed (build)"; a run past the time limit: "killed
                (timeout)")
  survived      every suite passed: a behaviour the tests do not pin
  n/a           the original text is gone (or appears more than once):
                the list is out of step with the code; fix the list
  error         pytest could not run the named tests (exit 2-5): fix them

Usage (from the top of the tree; `make mutate` does this):

  /usr/bin/python3 tests/mutate/mutate.py [--only ID,ID...] [--list] [--no-baseline]

The copy is made from the files git tracks (and new ones it does not
ignore), with the working tree's contents, in a temporary directory; the
tree itself is never touched.
The report goes to stdout and to build/mutate/report.md.  Exit status: 0
when every mutant was killed, 1 if any was not, 2 on a usage or set-up
error (the unmutated copy must build and pass its unit tests and the named
integration tests first).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MUTANTS = os.path.join(TOP, "tests", "mutate", "mutants")
PYTHON = "/usr/bin/python3"
LIMIT = 600  # seconds per suite run; a mutant that hangs a suite is caught


class Mutant:
    def __init__(self, ident, title, line):
        self.id, self.title, self.line = ident, title, line
        self.file, self.tests, self.why = None, [], ""
        self.old, self.new = [], []

    def check(self):
        where = f"{MUTANTS}:{self.line}: mutant {self.id}"
        if not self.file or not self.old or not self.why:
            raise SystemExit(f"{where}: needs file, why and '-' lines")
        if "\n".join(self.old) == "\n".join(self.new):
            raise SystemExit(f"{where}: the replacement is the original")


def parse(path):
    """The mutants file: blocks that start with '== id: title'."""
    mutants, m = [], None
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("#") or (not line.strip() and m is None):
                continue
            if line.startswith("== "):
                ident, _, title = line[3:].partition(":")
                m = Mutant(ident.strip(), title.strip(), n)
                mutants.append(m)
            elif m is None:
                raise SystemExit(f"{path}:{n}: text before the first '== id: title'")
            elif line.startswith("file "):
                m.file = line[5:].strip()
            elif line.startswith("tests "):
                m.tests = line[6:].split()
            elif line.startswith("why "):
                m.why = line[4:].strip()
            elif line.startswith("-"):
                m.old.append(line[1:])
            elif line.startswith("+"):
                m.new.append(line[1:])
            elif line.strip():
                raise SystemExit(f"{path}:{n}: not a mutant line: {line!r}")
    seen = set()
    for m in mutants:
        m.check()
        for t in m.tests:
            if t != "unit" and not os.path.exists(os.path.join(TOP, t.split("::")[0])):
                raise SystemExit(f"{path}:{m.line}: mutant {m.id}: no test {t}")
        if m.id in seen:
            raise SystemExit(f"{path}:{m.line}: mutant {m.id} twice")
        seen.add(m.id)
    return mutants


def copy_tree(dest):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=TOP, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = os.path.join(TOP, rel)
        if not os.path.lexists(src):
            continue  # deleted in the working tree, not yet committed
        os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)


def run(cmd, cwd, env=None):
    """(exit status, seconds, tail of the output); a timeout is -1."""
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=LIMIT)
        out, rc = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") + "\n[timeout]", -1
    return rc, time.monotonic() - start, out[-3000:]


def build(tree):
    return run(["make", "-s", "all", "unit-build"], tree)


def unit(tree):
    return run(["make", "-s", "unit"], tree)


def integration(tree, tests):
    env = dict(os.environ, RESPONDER=os.path.join(tree, "build", "todos-fcgi"))
    return run([PYTHON, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"] + tests,
               tree, env)


def verdict(rc, by):
    """A suite's exit status as a verdict: None if it passed."""
    if rc == 0:
        return None
    if rc == -1:
        return "killed", "timeout"
    # pytest: 1 is failed tests; 2-5 are interrupted, internal and usage
    # errors, no tests collected: the check is broken, not the mutant caught.
    if by == "integration" and rc != 1:
        return "error", f"pytest exit {rc}"
    return "killed", by


def judge(tree, m):
    """Plants m, runs the suites, takes it out again; (verdict, by, secs)."""
    path = os.path.join(tree, m.file)
    try:
        with open(path) as f:
            original = f.read()
    except FileNotFoundError:
        return "n/a", "file gone", 0.0
    old, new = "\n".join(m.old), "\n".join(m.new)
    count = original.count(old)
    if count != 1:
        return "n/a", "text gone" if count == 0 else f"text found {count} times", 0.0
    start = time.monotonic()
    with open(path, "w") as f:
        f.write(original.replace(old, new))
    try:
        steps = [("build", lambda: build(tree)), ("unit", lambda: unit(tree))]
        tests = [t for t in m.tests if t != "unit"]
        if tests:
            steps.append(("integration", lambda: integration(tree, tests)))
        for by, step in steps:
            rc, _, _ = step()
            v = verdict(rc, by)
            if v is not None:
                return v[0], v[1], time.monotonic() - start
        return "survived", "", time.monotonic() - start
    finally:
        with open(path, "w") as f:
            f.write(original)


def report(results, total):
    counts = {}
    for _, verdict, _, _ in results:
        counts[verdict] = counts.get(verdict, 0) + 1
    lines = [
        "# make mutate",
        "",
        f"{len(results)} mutants: {counts.get('killed', 0)} killed, "
        f"{counts.get('survived', 0)} survived, {counts.get('n/a', 0)} n/a, "
        f"{counts.get('error', 0)} errors; "
        f"{total / 60:.1f} min",
        "",
        "| mutant | file | verdict | by | s |",
        "|---|---|---|---|--:|",
    ]
    for m, verdict, by, secs in results:
        lines.append(f"| {m.id} | {m.file} | {verdict} | {by} | {secs:.0f} |")
    survivors = [m for m, v, _, _ in results if v != "killed"]
    if survivors:
        lines += ["", "Not killed:"]
        for m in survivors:
            lines.append(f"- {m.id} ({m.file}): {m.title}. Why it matters: {m.why}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--list", action="store_true", help="list the mutants and stop")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip running the named integration tests on the unmutated copy")
    args = ap.parse_args()
    mutants = parse(MUTANTS)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m.id for m in mutants}
        if unknown:
            print(f"mutate: unknown mutant(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.id in wanted]
    if args.list:
        for m in mutants:
            print(f"{m.id:28} {m.file:22} {m.title}")
        return 0

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="todos-mutate-") as tree:
        copy_tree(tree)
        # The unmutated copy must build and pass, or no verdict means much.
        named = sorted({t for m in mutants for t in m.tests if t != "unit"})
        steps = [("build", lambda: build(tree)), ("unit tests", lambda: unit(tree))]
        if not args.no_baseline and named:
            steps.append(("named integration tests", lambda: integration(tree, named)))
        for what, step in steps:
            rc, secs, out = step()
            if rc != 0:
                print(out, file=sys.stderr)
                print(f"mutate: the unmutated copy fails its {what}", file=sys.stderr)
                return 2
        print(f"mutate: {len(mutants)} mutants; unmutated copy built and passed "
              f"in {time.monotonic() - start:.0f} s", flush=True)
        results = []
        for i, m in enumerate(mutants, 1):
            verdict, by, secs = judge(tree, m)
            results.append((m, verdict, by, secs))
            print(f"mutate: [{i}/{len(mutants)}] {m.id}: {verdict}"
                  f"{' (' + by + ')' if by else ''}, {secs:.0f} s", flush=True)
    text = report(results, time.monotonic() - start)
    os.makedirs(os.path.join(TOP, "build", "mutate"), exist_ok=True)
    with open(os.path.join(TOP, "build", "mutate", "report.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if all(v == "killed" for _, v, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
