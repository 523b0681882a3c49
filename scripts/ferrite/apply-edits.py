#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Apply ferrite's small edits to existing kernel files, idempotently.

New ferrite files are copied into the kernel tree as they are; the few lines
that hook them into files the kernel already has (module lists, bindings
headers, Kconfig and Makefile entries, MAINTAINERS) are described here as
named edits. Every edit inserts lines at a sorted or anchored place and does
nothing when its lines are already there, so the script can run any number
of times.

  apply-edits.py --from PRISTINE TREE   rebuild every edited file of TREE
                                        from PRISTINE, then apply all edits
  apply-edits.py TREE NAME...           apply the named edits to TREE in place
  apply-edits.py --list                 print the edit names, in order
  apply-edits.py --files NAME...        print the files the edits touch
"""

import os
import re
import sys

MAINT_EMAIL = "Ferrite developers <ferrite-devel@example.org>"


class SortedLine:
    """Insert `line` into the sorted run of lines matching `run`.

    `key` extracts the sort key from a matching line. Attribute lines such as
    `#[cfg(...)]` directly above a run member stay with that member.
    """

    def __init__(self, path, line, run, key=lambda s: s, sticky=r"^#\["):
        self.path, self.line, self.run, self.key = path, line, re.compile(run), key
        self.sticky = re.compile(sticky)

    def apply(self, lines):
        if self.line in lines:
            return lines
        members = [i for i, s in enumerate(lines) if self.run.search(s)]
        if not members:
            raise SystemExit(f"apply-edits: no '{self.run.pattern}' run in {self.path}")
        mykey = self.key(self.line)
        pos = members[-1] + 1
        for i in members:
            if self.key(lines[i]) > mykey:
                pos = i
                while pos > 0 and self.sticky.search(lines[pos - 1]):
                    pos -= 1
                break
        return lines[:pos] + [self.line] + lines[pos:]


class BlockBefore:
    """Insert `block` (a list of lines) just before the first line equal to
    `anchor`, unless the block's first line is already present."""

    def __init__(self, path, block, anchor):
        self.path, self.block, self.anchor = path, block, anchor

    def apply(self, lines):
        if self.block[0] in lines:
            return lines
        try:
            pos = lines.index(self.anchor)
        except ValueError:
            raise SystemExit(f"apply-edits: anchor '{self.anchor}' not in {self.path}")
        return lines[:pos] + self.block + lines[pos:]


class LinesAfter:
    """Insert `block` (a list of lines) just after the first line equal to
    `anchor`, unless the block's first non-empty line is already present."""

    def __init__(self, path, block, anchor):
        self.path, self.block, self.anchor = path, block, anchor

    def apply(self, lines):
        if next(b for b in self.block if b) in lines:
            return lines
        try:
            pos = lines.index(self.anchor) + 1
        except ValueError:
            raise SystemExit(f"apply-edits: anchor '{self.anchor}' not in {self.path}")
        return lines[:pos] + self.block + lines[pos:]


class AttrBefore:
    """Put the attribute line `attr` (such as a `#[cfg(...)]`) just above the
    line equal to `anchor`, unless it is there already."""

    def __init__(self, path, attr, anchor):
        self.path, self.attr, self.anchor = path, attr, anchor

    def apply(self, lines):
        try:
            pos = lines.index(self.anchor)
        except ValueError:
            raise SystemExit(f"apply-edits: anchor '{self.anchor}' not in {self.path}")
        if pos > 0 and lines[pos - 1] == self.attr:
            return lines
        return lines[:pos] + [self.attr] + lines[pos:]


class MaintainersSection:
    """Add `files` to a MAINTAINERS section, creating the section (in
    case-insensitive alphabetical order of section names) when it is new."""

    path = "MAINTAINERS"

    def __init__(self, name, files, status="Maintained", lists=("rust-for-linux@vger.kernel.org",)):
        self.name, self.files = name, [f"F:\t{f}" for f in files]
        self.head = [name, f"M:\t{MAINT_EMAIL}"]
        self.head += [f"L:\t{x}" for x in lists]
        self.head += [f"S:\t{status}"]

    def apply(self, lines):
        if self.name not in lines:
            lines = self.create(lines)
        start = lines.index(self.name)
        end = lines.index("", start)
        entries = lines[start + 1:end]
        for f in self.files:
            if f not in entries:
                entries.append(f)
        fixed = [e for e in entries if not e.startswith("F:\t")]
        files = sorted(e for e in entries if e.startswith("F:\t"))
        return lines[:start + 1] + fixed + files + lines[end:]

    def create(self, lines):
        start = lines.index("3C59X NETWORK DRIVER")
        for i in range(start, len(lines)):
            header = lines[i - 1] == "" and lines[i] and \
                i + 1 < len(lines) and re.match(r"^[A-Z]:\t", lines[i + 1])
            if header and lines[i].casefold() > self.name.casefold():
                return lines[:i] + self.head + [""] + lines[i:]
        raise SystemExit("apply-edits: no place for MAINTAINERS section " + self.name)


def bindings_include(header):
    return SortedLine("rust/bindings/bindings_helper.h", f"#include <{header}>",
                      r"^#include <linux/")


def kernel_mod(name, cfg=None):
    return SortedLine("rust/kernel/lib.rs", f"pub mod {name};", r"^(pub )?mod \w+;",
                      key=lambda s: s.split("mod ")[1])


def kernel_mod_cfg(name, cfg):
    return [kernel_mod(name),
            AttrBefore("rust/kernel/lib.rs", f"#[cfg({cfg})]", f"pub mod {name};")]


def helper(name):
    return SortedLine("rust/helpers/helpers.c", f'#include "{name}.c"', r'^#include "')


def tab_to(text, column):
    """Pad `text` with tabs up to `column`, as kernel Makefiles align."""
    width = len(text)
    tabs = ""
    while width < column:
        tabs += "\t"
        width = (width // 8 + 1) * 8
    return text + (tabs or "\t")


def rust_sample(symbol, obj, title, help_lines):
    kconfig = [f"config {symbol}", f"\ttristate \"{title}\"", "\thelp"]
    kconfig += ["\t  " + h if h else "" for h in help_lines]
    kconfig += ["", f"\t  To compile this as a module, choose M here:",
                f"\t  the module will be called {obj}.", "", "\t  If unsure, say N.", ""]
    return [
        BlockBefore("samples/rust/Kconfig", kconfig, "config SAMPLE_RUST_HOSTPROGS"),
        SortedLine("samples/rust/Makefile", tab_to(f"obj-$(CONFIG_{symbol})", 48) + f"+= {obj}.o",
                   r"^obj-\$\(CONFIG_SAMPLE_RUST_"),
    ]


# Named edits, in the order their patches appear in the series.
EDITS = {
    "rust-mm": [
        bindings_include("linux/mm.h"),
        helper("mm"),
        kernel_mod("mm"),
        MaintainersSection("RUST [MM]", ["rust/helpers/mm.c", "rust/kernel/mm.rs"]),
    ],
    "rust-fs": [
        bindings_include("linux/anon_inodes.h"),
        bindings_include("linux/fs.h"),
        kernel_mod("fs"),
        MaintainersSection("RUST [FILES]", ["rust/kernel/fs.rs", "rust/kernel/fs/"]),
    ],
    "rust-miscdevice": [
        bindings_include("linux/miscdevice.h"),
        kernel_mod("miscdevice"),
        MaintainersSection("RUST [MISC DEVICE]", ["rust/kernel/miscdevice.rs"]),
    ],
    "sample-misc-device": rust_sample(
        "SAMPLE_RUST_MISC_DEVICE", "rust_misc_device", "Misc device",
        ["This option builds the Rust misc device sample: a character",
         "device with per-open state driven through ioctl and mmap."]) + [
        MaintainersSection("RUST [MISC DEVICE]", ["samples/rust/rust_misc_device.rs"]),
    ],
    "rust-module-param": [
        bindings_include("linux/moduleparam.h"),
        kernel_mod("module_param"),
        MaintainersSection("RUST [MODULE PARAMETERS]", ["rust/kernel/module_param.rs"]),
    ],
    "rust-kvm": [
        SortedLine("rust/uapi/uapi_helper.h", "#include <uapi/linux/kvm.h>", r"^#include <uapi/"),
        kernel_mod("kvm"),
        MaintainersSection("RUST [KVM UAPI]", ["rust/kernel/kvm.rs"],
                           lists=("rust-for-linux@vger.kernel.org", "kvm@vger.kernel.org")),
    ],
    "rkvm": [
        LinesAfter("drivers/virt/Kconfig", ["", 'source "drivers/virt/rkvm/Kconfig"'],
                   'source "drivers/virt/coco/Kconfig"'),
        LinesAfter("drivers/virt/Makefile", [tab_to("obj-$(CONFIG_RKVM)", 32) + "+= rkvm/"],
                   "obj-y\t\t\t\t+= coco/"),
        MaintainersSection("RKVM: KVM-COMPATIBLE VIRTUAL MACHINES IN RUST", ["drivers/virt/rkvm/"],
                           lists=("kvm@vger.kernel.org", "rust-for-linux@vger.kernel.org")),
    ],
    "selftest-rkvm": [
        SortedLine("tools/testing/selftests/Makefile", "TARGETS += rkvm", r"^TARGETS \+= "),
        MaintainersSection("RKVM: KVM-COMPATIBLE VIRTUAL MACHINES IN RUST",
                           ["tools/testing/selftests/rkvm/"],
                           lists=("kvm@vger.kernel.org", "rust-for-linux@vger.kernel.org")),
    ],
    "doc-rkvm": [
        SortedLine("Documentation/virt/index.rst", "   rkvm", r"^   [a-z]"),
        MaintainersSection("RKVM: KVM-COMPATIBLE VIRTUAL MACHINES IN RUST",
                           ["Documentation/virt/rkvm.rst"],
                           lists=("kvm@vger.kernel.org", "rust-for-linux@vger.kernel.org")),
    ],
    "selftest-rust-misc-device": [
        BlockBefore("tools/testing/selftests/rust/Makefile", ["CFLAGS += -Wall -O2 $(KHDR_INCLUDES)"],
                    "TEST_PROGS += test_probe_samples.sh"),
        SortedLine("tools/testing/selftests/rust/Makefile", "TEST_GEN_PROGS += misc_device_test",
                   r"^TEST_(GEN_)?PROGS \+= "),
        # The same test as a 32-bit process, for the compat_ioctl path, where -m32 builds.
        LinesAfter("tools/testing/selftests/rust/Makefile", [
            "CAN_BUILD_32 := $(shell echo 'int main(void) { return 0; }' | \\",
            "\t$(CC) -m32 -x c - -o /dev/null 2>/dev/null && echo 1)",
            "ifeq ($(CAN_BUILD_32),1)",
            "TEST_GEN_PROGS += misc_device_test_32",
            "endif",
        ], "TEST_GEN_PROGS += misc_device_test"),
        LinesAfter("tools/testing/selftests/rust/Makefile", [
            "",
            "$(OUTPUT)/misc_device_test_32: misc_device_test.c",
            "\t$(CC) -m32 $(CFLAGS) $< $(LDLIBS) -o $@",
        ], "include ../lib.mk"),
        SortedLine("tools/testing/selftests/rust/config", "CONFIG_SAMPLE_RUST_MISC_DEVICE=m",
                   r"^CONFIG_SAMPLE_RUST_"),
        MaintainersSection("RUST [MISC DEVICE]",
                           ["tools/testing/selftests/rust/misc_device_test.c"]),
    ],
    "rust-kprobes": [
        bindings_include("linux/kprobes.h"),
        helper("kprobes"),
        *kernel_mod_cfg("kprobes", "CONFIG_KPROBES"),
        MaintainersSection("RUST [KPROBES]", ["rust/helpers/kprobes.c", "rust/kernel/kprobes.rs"],
                           lists=("rust-for-linux@vger.kernel.org",
                                  "linux-trace-kernel@vger.kernel.org")),
    ],
    "rust-debugfs": [
        bindings_include("linux/debugfs.h"),
        *kernel_mod_cfg("debugfs", "CONFIG_DEBUG_FS"),
        MaintainersSection("RUST [DEBUGFS]", ["rust/kernel/debugfs.rs"]),
    ],
    "rust-pagecache": [
        bindings_include("linux/pagemap.h"),
        helper("pagecache"),
        *kernel_mod_cfg("pagecache", "CONFIG_BLOCK"),
        MaintainersSection("RUST [PAGE CACHE]",
                           ["rust/helpers/pagecache.c", "rust/kernel/pagecache.rs"],
                           lists=("rust-for-linux@vger.kernel.org", "linux-mm@kvack.org")),
    ],
    "rust-vfs": [
        bindings_include("linux/irq_work.h"),
        helper("atomic"),
        helper("fs"),
        helper("irq_work"),
        *kernel_mod_cfg("vfs", "CONFIG_BLOCK"),
        MaintainersSection("RUST [VFS]",
                           ["rust/helpers/atomic.c", "rust/helpers/fs.c", "rust/helpers/irq_work.c",
                            "rust/kernel/vfs.rs", "rust/kernel/vfs/"],
                           lists=("rust-for-linux@vger.kernel.org",
                                  "linux-fsdevel@vger.kernel.org")),
    ],
    "dirra": [
        LinesAfter("fs/Kconfig", ["", 'source "fs/dirra/Kconfig"'], 'source "fs/notify/Kconfig"'),
        LinesAfter("fs/Makefile", [tab_to("obj-$(CONFIG_DIRRA)", 32) + "+= dirra/"],
                   "obj-y\t\t\t\t+= notify/"),
        MaintainersSection("DIRRA: DIRECTORY READAHEAD", ["fs/dirra/"],
                           lists=("linux-fsdevel@vger.kernel.org",
                                  "rust-for-linux@vger.kernel.org")),
    ],
    "selftest-dirra": [
        SortedLine("tools/testing/selftests/Makefile", "TARGETS += dirra", r"^TARGETS \+= "),
        MaintainersSection("DIRRA: DIRECTORY READAHEAD", ["tools/testing/selftests/dirra/"],
                           lists=("linux-fsdevel@vger.kernel.org",
                                  "rust-for-linux@vger.kernel.org")),
    ],
    "doc-dirra": [
        BlockBefore("Documentation/filesystems/index.rst", ["   dirra"], "   dnotify"),
        MaintainersSection("DIRRA: DIRECTORY READAHEAD", ["Documentation/filesystems/dirra.rst"],
                           lists=("linux-fsdevel@vger.kernel.org",
                                  "rust-for-linux@vger.kernel.org")),
    ],
}


def files_of(names):
    return sorted({e.path for n in names for e in EDITS[n]})


def apply(tree, names):
    by_file = {}
    for n in names:
        for e in EDITS[n]:
            by_file.setdefault(e.path, []).append(e)
    return by_file


def write_if_changed(path, lines):
    text = "\n".join(lines) + "\n"
    with open(path, encoding="utf-8") as f:
        if f.read() == text:
            return
    tmp = path + ".ferrite-tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def run(base, tree, names):
    for path, edits in apply(tree, names).items():
        with open(os.path.join(base, path), encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for e in edits:
            lines = e.apply(lines)
        write_if_changed(os.path.join(tree, path), lines)


def main(argv):
    if argv[:1] == ["--list"]:
        print("\n".join(EDITS))
    elif argv[:1] == ["--files"]:
        print("\n".join(files_of(argv[1:] or list(EDITS))))
    elif argv[:1] == ["--from"] and len(argv) == 3:
        run(argv[1], argv[2], list(EDITS))
    elif len(argv) >= 2 and all(n in EDITS for n in argv[1:]):
        run(argv[0], argv[0], argv[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
