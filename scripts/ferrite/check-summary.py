#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the results of a ferrite guest test run.

Reads the kselftest TAP output written by guest-tests.sh and the KUnit KTAP
results in the guest's kernel log, prints failures and the closing line
'N passed, N failed, N skipped', and exits 1 when anything failed or a
program ended badly without saying which test failed.

  check-summary.py OUTPUT DMESG [GUEST_STATUS]

GUEST_STATUS is run-guest.sh's exit status: 124 (hung guest) and 125 (kernel
reports, taint or a crashed guest) count as one more failure.
"""

import re
import sys

TAP = re.compile(r"^(not ok|ok)\b[ \d]*(?:- )?(.*?)(?:\s+#\s*(SKIP|skip|TODO)\b.*)?$")
RESULT = re.compile(r"^ferrite-result: (\S+) exit=(\S+)")
TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")


def count(lines, indented):
    passed, failed, skipped, names = 0, 0, 0, []
    for line in lines:
        if indented:
            if not line.startswith("    "):
                continue
            line = line.strip()
        m = TAP.match(line)
        if not m:
            continue
        if m.group(3):
            skipped += 1
        elif m.group(1) == "ok":
            passed += 1
        else:
            failed += 1
            names.append(m.group(2))
    return passed, failed, skipped, names


def main(output_path, dmesg_path, guest_status="0"):
    with open(output_path, errors="replace") as f:
        output = f.read().splitlines()
    with open(dmesg_path, errors="replace") as f:
        dmesg = [TIMESTAMP.sub("", l) for l in f.read().splitlines()]

    passed, failed, skipped, names = count(output, False)
    # A program that crashed or timed out may not have reported a failure.
    block_failed = 0
    for line in output:
        if line.startswith("# ferrite: "):
            block_failed = 0
        m = TAP.match(line)
        if m and m.group(1) == "not ok":
            block_failed += 1
        r = RESULT.match(line)
        if r and r.group(2) != "0" and block_failed == 0:
            failed += 1
            names.append(f"{r.group(1)} (exit {r.group(2)})")

    kunit = count(dmesg, True)
    if kunit[0] + kunit[1] + kunit[2] == 0:
        failed += 1
        names.append("KUnit: no doctest results in the kernel log")
    print(f"# KUnit doctests: {kunit[0]} passed, {kunit[1]} failed, {kunit[2]} skipped")
    passed, failed, skipped = passed + kunit[0], failed + kunit[1], skipped + kunit[2]
    names += [f"KUnit {n}" for n in kunit[3]]

    if guest_status != "0":
        failed += 1
        names.append({"124": "guest hung and was killed",
                      "125": "kernel reported a problem (see above)"}.get(
                          guest_status, f"guest run ended with status {guest_status}"))

    for n in names:
        print(f"# FAILED: {n}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
