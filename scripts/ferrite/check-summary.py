#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the results of a ferrite guest test run, trusting nothing.

Reads the output of guest-tests.sh (each entry's TAP, its ferrite-result
line, its module unloads) and the KUnit KTAP results in the guest's kernel
log. Prints a line per entry (result, counts, seconds), a line per kind of
result, every failure, and the closing line 'N passed, N failed, N skipped';
exits 1 when anything failed.

An entry fails as a whole when it did not run, its program is missing or
ended with a non-zero status, printed no TAP plan, a plan of 0 (a filter
that matched nothing), or fewer or more results than its plan. A SKIP
counts as skipped only when tests.conf lists it as expected for that entry
(with its reason); any other SKIP is a failure, and so is an expected SKIP
that did not happen, so that the list stays true.

  check-summary.py --conf TESTS_CONF --root REPO --pristine SRC \\
      OUTPUT DMESG GUEST_STATUS [NAME...]

GUEST_STATUS is run-guest.sh's exit status: 124 (hung guest) and 125 (kernel
reports, taint or a crashed guest) count as one more failure.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testsconf  # noqa: E402

RESULT_LINE = re.compile(r"^(not ok|ok)\b(?: (\d+))?(?: -)? ?(.*?)(?:\s+#\s*(\w+)\s*(.*))?$")
PLAN = re.compile(r"^1\.\.(\d+)(?:\s+#\s*(\w+)\s*(.*))?$")
FERRITE_RESULT = re.compile(r"^ferrite-result: (\S+) exit=(\S+) seconds=(\d+)")
TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
LOCATION = re.compile(r"^\s*# (\S+)\.location: (\S+):\d+")


class Tally:
    def __init__(self, what):
        self.what = what
        self.passed = self.failed = self.skipped = 0

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped

    def line(self):
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def tap_result(line):
    """(ok, name, directive, reason) of a TAP result line, else None."""
    m = RESULT_LINE.match(line)
    if not m:
        return None
    directive = (m.group(4) or "").upper()
    return m.group(1) == "ok", m.group(3), directive, m.group(5) or ""


def split_blocks(output):
    """Entry name -> (program lines, ferrite-result match, unload lines)."""
    blocks, name = {}, None
    for line in output:
        if line.startswith("# ferrite: "):
            name = line[len("# ferrite: "):].strip()
            blocks[name] = ([], None, [])
            continue
        if name is None:
            continue
        program, result, unloads = blocks[name]
        r = FERRITE_RESULT.match(line)
        if r and r.group(1) == name:
            blocks[name] = (program, r, unloads)
        elif result is None:
            program.append(line)
        elif line.startswith(("ok - unload ", "not ok - unload ")):
            unloads.append(line)
    return blocks


def judge_entry(entry, block, failures):
    """Tally one entry's program results; append why it failed to failures."""
    tally = Tally(entry.name)
    seconds = "-"

    def fail(why):
        tally.failed += 1
        failures.append(f"{entry.name}: {why}")

    if block is None:
        fail("did not run (the guest stopped before it)")
        return tally, seconds, "not run"
    program, result, _ = block
    if result is None:
        fail("no ferrite-result line (the guest stopped during it)")
        return tally, seconds, "cut off"
    seconds = result.group(3)
    status = result.group(2)

    plan, plan_skip, results = None, None, []
    for line in program:
        p = PLAN.match(line)
        if p and plan is None:
            plan = int(p.group(1))
            if (p.group(2) or "").upper() == "SKIP":
                plan_skip = p.group(3) or "no reason given"
            continue
        r = tap_result(line)
        if r:
            results.append(r)

    expected = dict(entry.skips)
    for ok, name, directive, reason in results:
        if directive == "SKIP":
            if expected.pop(name, None) is not None:
                tally.skipped += 1
            else:
                fail(f"{name}: unexpected SKIP ({reason or 'no reason given'})")
        elif ok and directive in ("", "XFAIL"):
            tally.passed += 1
        else:
            fail(f"{name}: {'XPASS' if directive == 'XPASS' else 'failed'}")

    verdict = "ok"
    if status.startswith("load-failed"):
        fail(f"could not load a module ({status})")
        verdict = "no load"
    elif plan is None:
        fail(f"printed no TAP plan (exit {status}: missing or crashed program?)")
        verdict = "no plan"
    elif plan == 0:
        if plan_skip is not None and expected.pop("*", None) is not None:
            tally.skipped += 1
        else:
            fail(f"plan of 0 tests ({plan_skip or 'a filter that matched nothing?'})")
        verdict = "no tests"
    elif len(results) != plan:
        fail(f"plan of {plan} tests but {len(results)} results")
        verdict = "short"
    if status not in ("0", "4") and not status.startswith("load-failed"):
        # 4 is KSFT_SKIP, for a program that skipped as a whole.
        fail(f"program exited with status {status}" +
             (" (timed out)" if status in ("124", "137") else ""))
        verdict = "exit " + status
    elif status == "4" and plan != 0:
        fail("program exited with KSFT_SKIP after running tests")
    for name, why in expected.items():
        fail(f"{name}: expected to SKIP ({why}) but did not")
    if tally.failed and verdict == "ok":
        verdict = "FAILED"
    return tally, seconds, verdict


def kunit_tallies(dmesg, root, pristine, failures):
    """The suite's own doctests and upstream's, from the KTAP in the log."""
    ours, theirs = Tally("ferrite doctests"), Tally("upstream doctests")
    where = {}
    for line in dmesg:
        m = LOCATION.match(line)
        if m:
            where[m.group(1)] = m.group(2)
    seen, plans = 0, 0
    for line in dmesg:
        if not line.startswith("    ") or line.startswith("     "):
            continue
        line = line.strip()
        p = PLAN.match(line)
        if p:
            plans += int(p.group(1))
            continue
        r = tap_result(line)
        if not r:
            continue
        seen += 1
        ok, name, directive, _ = r
        path = where.get(name, "")
        own = bool(path) and os.path.exists(os.path.join(root, path)) and \
            not os.path.exists(os.path.join(pristine, path))
        tally = ours if own else theirs
        if directive == "SKIP":
            tally.skipped += 1
            failures.append(f"KUnit {name}: unexpected SKIP")
            tally.failed += 1
        elif ok:
            tally.passed += 1
        else:
            tally.failed += 1
            failures.append(f"KUnit {name} ({path or 'unknown file'})")
    if seen == 0:
        ours.failed += 1
        failures.append("KUnit: no doctest results in the kernel log")
    elif seen != plans:
        ours.failed += 1
        failures.append(f"KUnit: plans announced {plans} tests, the log holds {seen}")
    return ours, theirs


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--pristine", required=True)
    ap.add_argument("output")
    ap.add_argument("dmesg")
    ap.add_argument("guest_status")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()

    with open(args.output, errors="replace") as f:
        output = f.read().splitlines()
    with open(args.dmesg, errors="replace") as f:
        dmesg = [TIMESTAMP.sub("", line) for line in f.read().splitlines()]
    selected = testsconf.select(testsconf.entries(args.conf), args.names)
    blocks = split_blocks(output)
    failures = []

    own, ref = Tally("ferrite kselftests"), Tally("reference runs")
    unloads = Tally("module unloads")
    width = max([len(e.name) for e in selected] + [5])
    print(f"# {'entry':<{width}}  {'result':<8} {'pass':>5} {'fail':>5} {'skip':>5} {'s':>5}")
    for entry in selected:
        block = blocks.get(entry.name)
        tally, seconds, verdict = judge_entry(entry, block, failures)
        (ref if entry.reference else own).add(tally)
        print(f"# {entry.name:<{width}}  {verdict:<8} {tally.passed:>5} {tally.failed:>5} "
              f"{tally.skipped:>5} {seconds:>5}")
        for line in (block[2] if block else []):
            if line.startswith("ok"):
                unloads.passed += 1
            else:
                unloads.failed += 1
                failures.append(f"{entry.name}: {line[len('not ok - '):]} failed")
    for name in blocks:
        if name not in {e.name for e in selected}:
            own.failed += 1
            failures.append(f"{name}: ran but was not selected")

    ours, theirs = kunit_tallies(dmesg, args.root, args.pristine, failures)
    guest = Tally("guest")
    if args.guest_status != "0":
        guest.failed += 1
        failures.append({"124": "guest hung and was killed",
                         "125": "kernel reported a problem (see above)"}.get(
                             args.guest_status, f"guest run ended with status {args.guest_status}"))

    total = Tally("total")
    refs = sorted({e.reference for e in selected if e.reference})
    for t, label in ((own, "ferrite kselftests"),
                     (ref, f"the same on stock ({'; '.join(refs) or 'none selected'})"),
                     (ours, "ferrite doctests (KUnit)"),
                     (theirs, "upstream doctests (KUnit)"),
                     (unloads, "module unloads"),
                     (guest, "guest run (hang, kernel reports, taint)")):
        print(f"# {label}: {t.line()}")
        total.add(t)
    for why in failures:
        print(f"# FAILED: {why}")
    print(total.line())
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())
