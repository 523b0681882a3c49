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
        return lines[:pos] + self.attributes() + [self.line] + lines[pos:]

    def attributes(self):
        attribute = getattr(self, "attribute", None)
        return [attribute] if attribute else []


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
    edit = SortedLine("rust/kernel/lib.rs", f"pub mod {name};", r"^(pub )?mod \w+;",
                      key=lambda s: s.split("mod ")[1])
    if cfg:
        edit.attribute = f"#[cfg({cfg})]"
    return edit


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
        MaintainersSection("RUST [MM]", ["rust/helpers/mm.c", "rust/kernel/mm.rs",
                                         "rust/kernel/mm/"]),
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
    "rust-debugfs": [
        bindings_include("linux/debugfs.h"),
        kernel_mod("debugfs"),
        MaintainersSection("RUST [DEBUGFS]", ["rust/kernel/debugfs.rs"]),
    ],
    "rust-sched": [
        helper("sched"),
        kernel_mod("sched"),
        MaintainersSection("RUST [SCHED]", ["rust/helpers/sched.c", "rust/kernel/sched.rs"]),
    ],
    "rust-svm": [
        BlockBefore("rust/bindings/bindings_helper.h",
                    ["#ifdef CONFIG_X86", "#include <asm/fpu/api.h>", "#include <asm/svm.h>",
                     "#endif", ""],
                    "/* `bindgen` gets confused at certain things. */"),
        # <asm/svm.h> pulls in the Hyper-V definitions, with packed unions of bitfields.
        LinesAfter("rust/bindgen_parameters",
                   ["--opaque-type hv_msi_.*", "--opaque-type hv_interrupt_entry",
                    "--opaque-type hv_.*_device_interrupt"],
                   "--opaque-type x86_msi_addr_lo"),
        # PAE page-table roots must sit below 4 GiB.
        LinesAfter("rust/bindings/bindings_helper.h",
                   ["const gfp_t RUST_CONST_HELPER___GFP_DMA32 = ___GFP_DMA32;"],
                   "const gfp_t RUST_CONST_HELPER___GFP_ZERO = __GFP_ZERO;"),
        LinesAfter("rust/kernel/alloc.rs", [
            "",
            "    /// Allocate from the memory a 32-bit physical address reaches.",
            "    ///",
            "    /// This is normally or'd with other flags.",
            "    pub const __GFP_DMA32: Flags = Flags(bindings::__GFP_DMA32);",
        ], "    pub const __GFP_ZERO: Flags = Flags(bindings::__GFP_ZERO);"),
        helper("svm"),
        kernel_mod("svm", cfg="CONFIG_X86_64"),
        MaintainersSection("RUST [AMD SVM]", ["rust/helpers/svm.c", "rust/kernel/svm.rs",
                                              "rust/kernel/svm/"],
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
    "rust-cred": [
        bindings_include("linux/cred.h"),
        helper("cred"),
        kernel_mod("cred"),
        MaintainersSection("RUST [CREDENTIALS]", ["rust/helpers/cred.c", "rust/kernel/cred.rs"]),
    ],
    "rust-fs-stacking": [
        bindings_include("linux/backing-file.h"),
        bindings_include("linux/fs_context.h"),
        bindings_include("linux/fs_parser.h"),
        bindings_include("linux/fs_stack.h"),
        bindings_include("linux/iversion.h"),
        bindings_include("linux/mount.h"),
        bindings_include("linux/namei.h"),
        bindings_include("linux/splice.h"),
        bindings_include("linux/xattr.h"),
        SortedLine("rust/bindings/bindings_helper.h",
                   "const unsigned long RUST_CONST_HELPER_SB_RDONLY = SB_RDONLY;",
                   r"^const [a-z_ ]+ RUST_CONST_HELPER_"),
        SortedLine("rust/bindings/bindings_helper.h",
                   "const unsigned long RUST_CONST_HELPER_SB_SILENT = SB_SILENT;",
                   r"^const [a-z_ ]+ RUST_CONST_HELPER_"),
        helper("vfs"),
        kernel_mod("vfs"),
        MaintainersSection("RUST [STACKING FILESYSTEMS]",
                           ["rust/helpers/vfs.c", "rust/kernel/vfs.rs", "rust/kernel/vfs/"],
                           lists=("linux-fsdevel@vger.kernel.org", "rust-for-linux@vger.kernel.org")),
    ],
    "unionfs": [
        LinesAfter("fs/Kconfig", ['source "fs/unionfs/Kconfig"'], 'source "fs/overlayfs/Kconfig"'),
        LinesAfter("fs/Makefile", [tab_to("obj-$(CONFIG_UNIONFS)", 32) + "+= unionfs/"],
                   "obj-$(CONFIG_OVERLAY_FS)\t+= overlayfs/"),
        MaintainersSection("UNIONFS: UNION MOUNTS IN RUST", ["fs/unionfs/"],
                           lists=("linux-unionfs@vger.kernel.org", "rust-for-linux@vger.kernel.org")),
    ],
    "selftest-unionfs": [
        SortedLine("tools/testing/selftests/Makefile", "TARGETS += unionfs", r"^TARGETS \+= "),
        MaintainersSection("UNIONFS: UNION MOUNTS IN RUST", ["tools/testing/selftests/unionfs/"],
                           lists=("linux-unionfs@vger.kernel.org", "rust-for-linux@vger.kernel.org")),
    ],
    "doc-unionfs": [
        LinesAfter("Documentation/filesystems/index.rst", ["   unionfs"], "   udf"),
        MaintainersSection("UNIONFS: UNION MOUNTS IN RUST", ["Documentation/filesystems/unionfs.rst"],
                           lists=("linux-unionfs@vger.kernel.org", "rust-for-linux@vger.kernel.org")),
    ],
    "rust-kprobes": [
        bindings_include("linux/kprobes.h"),
        helper("kprobes"),
        kernel_mod("kprobes", cfg="CONFIG_KPROBES"),
        MaintainersSection("RUST [KPROBES]", ["rust/helpers/kprobes.c", "rust/kernel/kprobes.rs"],
                           lists=("rust-for-linux@vger.kernel.org",
                                  "linux-trace-kernel@vger.kernel.org")),
    ],
    "rust-pagecache": [
        bindings_include("linux/pagemap.h"),
        helper("pagecache"),
        kernel_mod("pagecache", cfg="CONFIG_BLOCK"),
        MaintainersSection("RUST [PAGE CACHE]",
                           ["rust/helpers/pagecache.c", "rust/kernel/pagecache.rs"],
                           lists=("rust-for-linux@vger.kernel.org", "linux-mm@kvack.org")),
    ],
    "rust-file-inode": [
        bindings_include("linux/irq_work.h"),
        helper("atomic"),
        helper("file"),
        helper("irq_work"),
        kernel_mod("file", cfg="CONFIG_BLOCK"),
        kernel_mod("inode", cfg="CONFIG_BLOCK"),
        kernel_mod("readdir_watch", cfg="all(CONFIG_BLOCK, CONFIG_KPROBES)"),
        MaintainersSection("RUST [FILES AND INODES]",
                           ["rust/helpers/atomic.c", "rust/helpers/file.c", "rust/helpers/irq_work.c",
                            "rust/kernel/file.rs", "rust/kernel/inode.rs",
                            "rust/kernel/readdir_watch.rs"],
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
