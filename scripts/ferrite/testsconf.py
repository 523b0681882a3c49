#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The one reader of tests.conf (its header describes the format).

  testsconf.py CONF dirs              kselftest directories the entries use
  testsconf.py CONF check NAME...     fail on a name that is not an entry
  testsconf.py CONF run [NAME...]     'name TAB modules TAB program' lines of
                                      the selected entries, for guest-tests.sh

As a module, entries(path) gives the parsed entries to check-summary.py.
"""

import sys


class Entry:
    def __init__(self, name, modules, program, line):
        self.name = name
        self.modules = modules
        self.program = program
        self.line = line
        # The stock implementation this entry runs against, or None.
        self.reference = None
        # Test name (as its TAP line names it) -> why it skips here.
        self.skips = {}

    def directory(self):
        """The kselftest directory of the entry's program."""
        for word in self.program.split():
            if "=" not in word:
                return word.removeprefix("src:").rsplit("/", 1)[0]
        raise ValueError(f"entry {self.name} has no program")


def entries(path):
    result, seen = [], set()
    with open(path) as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            where = f"{path}:{number}"
            if fields[0].startswith("@"):
                if not result:
                    raise ValueError(f"{where}: {fields[0]} before any entry")
                entry = result[-1]
                if fields[0] == "@reference" and len(fields) == 2 and fields[1]:
                    entry.reference = fields[1]
                elif fields[0] == "@skip" and len(fields) == 3 and fields[1] and fields[2]:
                    entry.skips[fields[1]] = fields[2]
                else:
                    raise ValueError(f"{where}: bad directive (see the file's header)")
                continue
            if len(fields) != 3 or not all(fields):
                raise ValueError(f"{where}: an entry has three tab-separated fields")
            if fields[0] in seen:
                raise ValueError(f"{where}: entry {fields[0]} appears twice")
            seen.add(fields[0])
            result.append(Entry(*fields, number))
    return result


def select(all_entries, names):
    """The entries named (all of them for no names); unknown names fail."""
    known = {e.name for e in all_entries}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"no such test in tests.conf: {' '.join(unknown)} "
                         f"(known: {' '.join(sorted(known))})")
    return [e for e in all_entries if not names or e.name in names]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path, command, names = argv[1], argv[2], argv[3:]
    try:
        all_entries = entries(path)
        if command == "dirs":
            for d in sorted({e.directory() for e in all_entries}):
                print(d)
        elif command == "check":
            select(all_entries, names)
        elif command == "run":
            for e in select(all_entries, names):
                print(f"{e.name}\t{e.modules}\t{e.program}")
        else:
            sys.exit(__doc__)
    except ValueError as err:
        print(f"ferrite: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
