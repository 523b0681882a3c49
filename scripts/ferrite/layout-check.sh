#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Check that bindgen laid out the C structs the suite's Rust code uses
# exactly as the C compiler does.
#
# Why: the kernel generates its Rust bindings with `bindgen --no-layout-tests`,
# so nothing notices when bindgen misplaces fields. A bindgen release once
# dropped the alignment of an empty ____cacheline_aligned struct and every
# task_struct field after it sat 0x38 bytes early on the Rust side; the result
# was an oops at run time, not a build error (DESIGN.md section 1).
#
# How: every struct or union named as `bindings::X` (or `uapi::X`, the other
# bindgen-made crate) in the suite's Rust code, plus task_struct, and every
# struct those embed by value, is measured twice:
#   - C: a generated file that includes the same helper headers bindgen read
#     emits offsetof/sizeof/_Alignof as assembler markers; it is compiled with
#     the exact command kbuild used for kernel/fork.o, -c replaced by -S;
#   - Rust: a generated crate asserts, at compile time, that
#     core::mem::offset_of!/size_of/align_of on kernel::bindings (kernel::uapi)
#     give the C numbers; it is compiled with the exact command kbuild used for
#     a Rust module. A difference is a compile error naming the field.
# On a mismatch a second generated crate emits bindgen's numbers as assembler
# markers, so that the report shows both sides. Generated files stay in
# $(KBUILD)/ferrite-layout/.
#
# Usage: layout-check.sh [--all] [STRUCT...]
#   --all     check every struct and union in the bindings (about 15 s), not
#             only those the suite names and what they embed (about 2 s)
#   STRUCT    extra structs to check: NAME for bindings, uapi::NAME for uapi
# Exit status: 0 all match, 1 layout mismatch, 2 the check could not run.

source "$(dirname "$0")/common.sh"

for arg in "$@"; do
	case $arg in
	--all) ;;
	-h | --help)
		sed -n '/^# Usage:/,/^# Exit/p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "usage: layout-check.sh [--all] [STRUCT...]" >&2
		exit 2
		;;
	esac
done

# Not common.sh's die: exit status 1 means "layouts differ" here.
cannot_run() {
	echo "layout-check: error: $*" >&2
	exit 2
}

tree=$(KTREE) || exit 2
build=$(KBUILD) || exit 2
out=$build/ferrite-layout

[ -f "$build/rust/bindings/bindings_generated.rs" ] ||
	cannot_run "no generated bindings in $build: build the kernel first"
[ -f "$build/kernel/.fork.o.cmd" ] ||
	cannot_run "no kbuild command for kernel/fork.o in $build: build the kernel first"

# The Rust module whose kbuild command is reused: any suite module that is
# built, else the minimal sample. Its flags are what a suite module sees.
rust_cmd=
for f in "$build"/drivers/virt/rkvm/.*.o.cmd "$build"/fs/unionfs/.*.o.cmd \
	"$build"/fs/dirra/.*.o.cmd "$build"/samples/rust/.rust_minimal.o.cmd; do
	if [ -f "$f" ] && grep -q -- '--extern kernel' "$f"; then
		rust_cmd=$f
		break
	fi
done
[ -n "$rust_cmd" ] || cannot_run "no kbuild command of a Rust module in $build (is SAMPLE_RUST_MINIMAL on?)"

rm -rf "$out"
mkdir -p "$out"

# Rust source directories whose `bindings::X` uses decide what is checked.
# Directories the tree does not have (yet) are skipped.
src_dirs=()
for d in rust/kernel samples/rust drivers/virt/rkvm fs/unionfs fs/dirra; do
	[ -d "$tree/$d" ] && src_dirs+=("$tree/$d")
done

export BINDGEN BINDGEN_VERSION
exec python3 - "$tree" "$build" "$out" "$build/kernel/.fork.o.cmd" "$rust_cmd" \
	"${#src_dirs[@]}" "${src_dirs[@]}" "$@" <<'PY'
import os
import re
import shlex
import subprocess
import sys
import time

t_start = time.monotonic()
sys.stdout.reconfigure(line_buffering=True)
tree, build, out, c_cmdfile, rust_cmdfile, ndirs = sys.argv[1:7]
src_dirs = sys.argv[7:7 + int(ndirs)]
extra_roots = sys.argv[7 + int(ndirs):]
check_all = "--all" in extra_roots
extra_roots = [r for r in extra_roots if r != "--all"]
# The crates bindgen generates: (crate, alias in the generated Rust, the
# generated file, the header bindgen read).
CRATES = [
    ("bindings", "b", "rust/bindings/bindings_generated.rs", "rust/bindings/bindings_helper.h"),
    ("uapi", "u", "rust/uapi/uapi_generated.rs", "rust/uapi/uapi_helper.h"),
]
ALIAS = {c[0]: c[1] for c in CRATES}


def fail(msg, code=2):
    print(f"layout-check: error: {msg}", file=sys.stderr)
    sys.exit(code)


def note(msg):
    print(f"layout-check: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------
# The generated bindings: structs and unions with their fields, and aliases.

items = {}        # (crate, name) -> [(rust field name, type text)]
aliases = {}      # (crate, name) -> name


def parse_bindings(crate, path):
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"pub (?:struct|union) (\w+) \{(\})?$", line)
        if m:
            fields = items[(crate, m.group(1))] = []
            i += 1
            # A field starts at four spaces of indent; deeper lines (function
            # pointer types) continue it.
            while not m.group(2) and lines[i] != "}":
                fm = re.match(r"    (?:pub )?(\w+):\s*(.*)$", lines[i])
                if fm:
                    fields.append([fm.group(1), fm.group(2)])
                elif fields:
                    fields[-1][1] += " " + lines[i].strip()
                i += 1
            for fld in fields:
                fld[1] = fld[1].rstrip(",").strip()
        m = re.match(r"pub type (\w+) = (?:::core::mem::)?(\w+);$", line)
        if m:
            aliases[(crate, m.group(1))] = m.group(2)
        i += 1


for crate, _, generated, _ in CRATES:
    path = os.path.join(build, generated)
    if os.path.exists(path):
        parse_bindings(crate, path)
    elif crate == "bindings":
        fail(f"{path} missing")


def resolve(crate, name):
    seen = set()
    while (crate, name) in aliases and name not in seen:
        seen.add(name)
        name = aliases[(crate, name)]
    return name


# bindgen 0.69.5 (ir/context.rs, rust_mangle) appends "_" to C names that are
# Rust keywords or would clash with Rust's primitive types.
MANGLED = set("""abstract alignof as async await become box break const continue
crate do dyn else enum extern false final fn for if impl in let loop macro match
mod move mut offsetof override priv proc pub pure ref return Self self sizeof
static struct super trait true try type typeof unsafe unsized use virtual where
while yield str bool f32 f64 usize isize u128 i128 u64 i64 u32 i32 u16 i16 u8
i8 _""".split())


def c_field_name(rust):
    if rust.endswith("_") and rust[:-1] in MANGLED:
        return rust[:-1]
    return rust


def synthesized(field):
    # Storage and padding bindgen adds: no C member of that name exists.
    # Bitfields live in _bitfield_N units and cannot be offsetof'd in C; the
    # members after them are checked, so a misplaced unit still shows.
    return (field.startswith("_bitfield_") or field.startswith("__bindgen_padding_")
            or field in ("_bindgen_opaque_blob", "bindgen_union_field", "_unused", "_address"))


def element_type(t):
    """Strip arrays and bindgen wrappers: (element type, array depth)."""
    depth = 0
    while True:
        m = re.fullmatch(r"\[(.*); \w+\]", t)
        if m:
            t, depth = m.group(1).strip(), depth + 1
            continue
        m = re.fullmatch(r"__IncompleteArrayField<(.*)>", t)
        if m:
            t, depth = m.group(1).strip(), depth + 1
            continue
        m = re.fullmatch(r"(?:::core::mem::)?(?:__BindgenUnionField|ManuallyDrop)<(.*)>", t)
        if m:
            t = m.group(1).strip()
            continue
        return t, depth


def anonymous(name):
    return "__bindgen_ty_" in name


def placeholder(fields):
    # Only forward-declared in the headers bindgen read: no layout to check.
    return [f[0] for f in fields] in (["_unused"], ["_address"])


# ---------------------------------------------------------------------------
# Roots: what the suite's Rust code names through the bindings.

roots = {("bindings", "task_struct")}
wanted = []
for r in extra_roots:
    crate, _, name = r.rpartition("::")
    wanted.append((crate or "bindings", name))
roots.update(wanted)
for d in src_dirs:
    for dirpath, _, files in os.walk(d):
        for fn in files:
            if not fn.endswith(".rs"):
                continue
            with open(os.path.join(dirpath, fn), errors="replace") as f:
                text = f.read()
            roots.update(re.findall(r"\b(bindings|uapi)::([A-Za-z_]\w*)", text))
            for crate, group in re.findall(r"\b(bindings|uapi)::\{([^}]*)\}", text):
                roots.update((crate, n) for n in re.findall(r"(?:^|,)\s*([A-Za-z_]\w*)", group))
if check_all:
    roots.update(items)
root_types = set()
for crate, name in roots:
    n = resolve(crate, name)
    if (crate, n) in items and not anonymous(n):
        root_types.add((crate, n))
for crate, name in wanted:
    if (crate, resolve(crate, name)) not in root_types:
        fail(f"{crate}::{name}: no struct or union of that name in the bindings")

# ---------------------------------------------------------------------------
# Walk the types: the named ones are checked whole (size, alignment, fields);
# the members of anonymous ones are checked through the named type that holds
# them, since C can only name them from there.

checks = []       # [label, C member designator, Rust expression, kind, (crate, type)]
skipped_fwd = []
queue = sorted(root_types)
queued = set(queue)


def label(top):
    crate, name = top
    return name if crate == "bindings" else f"{crate}::{name}"


def walk(top, tname, c_prefix, rust_terms, found):
    crate = top[0]
    for fname, ftype in items[(crate, tname)]:
        if synthesized(fname):
            continue
        elem, depth = element_type(ftype)
        elem = resolve(crate, elem)
        terms = rust_terms + [f"offset_of!({ALIAS[crate]}::{tname}, {fname})"]
        if fname.startswith("__bindgen_anon_"):
            # An anonymous struct/union member: its members belong to the
            # enclosing C struct directly.
            if (crate, elem) in items:
                walk(top, elem, c_prefix, terms, found)
            continue
        cname = c_field_name(fname)
        designator = f"{c_prefix}.{cname}" if c_prefix else cname
        checks.append([f"{label(top)}.{designator}", designator, " + ".join(terms), "offset", top])
        if (crate, elem) in items:
            if anonymous(elem):
                walk(top, elem, designator + "[0]" * depth, terms, found)
            else:
                found.append((crate, elem))


while queue:
    top = queue.pop(0)
    crate, name = top
    if placeholder(items[top]):
        skipped_fwd.append(label(top))
        continue
    rust_type = f"{ALIAS[crate]}::{name}"
    checks.append([f"{label(top)} size", None, f"size_of::<{rust_type}>()", "size", top])
    checks.append([f"{label(top)} align", None, f"align_of::<{rust_type}>()", "align", top])
    found = []
    walk(top, name, "", [], found)
    for n in found:
        if n not in queued:
            queued.add(n)
            queue.append(n)

# ---------------------------------------------------------------------------
# C side. Spell each type as C does: a struct/union tag if the headers define
# one by that name, else a typedef name (bindgen names typedef'd anonymous
# structs after the typedef). The preprocessed helper headers tell which.


def read_cmd(path):
    with open(path) as f:
        text = f.read()
    m = re.search(r"^savedcmd_\S+ := (.*)$", text, re.M)
    if not m:
        fail(f"{path}: no savedcmd line")
    lex = shlex.shlex(m.group(1), posix=True, punctuation_chars=";&|")
    lex.whitespace_split = True
    argv = []
    for tok in lex:
        if tok in (";", "&&", "||", "|"):
            break            # objtool and friends run after the compiler
        argv.append(tok)
    env = {}
    while argv and re.match(r"[A-Za-z_]\w*=", argv[0]):
        k, v = argv.pop(0).split("=", 1)
        env[k] = v
    return env, argv


def c_command(mode, src, dst):
    """kernel/fork.o's command with our input, output and mode."""
    _, argv = read_cmd(c_cmdfile)
    res = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-Wp,-MMD") or a.startswith("-Wp,-MD"):
            pass                      # dependency file: kbuild's business
        elif a == "-c":
            res.append(mode)
        elif a == "-o":
            i += 1
        elif a.endswith(".c") and not a.startswith("-"):
            pass                      # the source file
        else:
            res.append(a)
        i += 1
    if mode not in res:
        fail(f"{c_cmdfile}: no -c in the command")
    return res + ["-o", dst, src]


def run(argv, log, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(log, "w") as lf:
        lf.write(" ".join(shlex.quote(a) for a in argv) + "\n\n")
        lf.flush()
        p = subprocess.run(argv, cwd=build, stdout=lf, stderr=subprocess.STDOUT, env=full_env)
    with open(log) as lf:
        return p.returncode, lf.read()


includes = "".join(f'#include "{os.path.join(tree, c[3])}"\n' for c in CRATES
                   if any(k[0] == c[0] for k in items))
prelude = f"""// SPDX-License-Identifier: GPL-2.0
// Generated by scripts/ferrite/layout-check.sh: the C view of the layouts.
{includes}#include <linux/stddef.h>

#define FERRITE_LAYOUT(id, val) \\
	asm volatile("\\n.ascii \\"~FL " #id " %c0~\\"" : : "i" ((unsigned long)(val)))

void ferrite_layout(void);
void ferrite_layout(void)
{{
"""
with open(os.path.join(out, "helper.c"), "w") as f:
    f.write(prelude + "}\n")
rc, log = run(c_command("-E", os.path.join(out, "helper.c"), os.path.join(out, "helper.i")),
              os.path.join(out, "cpp.log"))
if rc:
    fail(f"preprocessing the helper headers failed, see {out}/cpp.log\n{log[-2000:]}")
with open(os.path.join(out, "helper.i")) as f:
    pre = f.read()
tags = {}
for kind, name in re.findall(
        r"\b(struct|union)\s+(?:__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)\s*)*(\w+)\s*\{", pre):
    tags.setdefault(name, kind)
del pre


def c_type(top):
    crate, name = top
    if name in tags:
        return f"{tags[name]} {name}"
    # bindgen names a struct defined inside another one parent_child; in C
    # its tag is plain child.
    for k in range(1, len(name)):
        if name[k] == "_" and (crate, name[:k]) in items and name[k + 1:] in tags:
            return f"{tags[name[k + 1:]]} {name[k + 1:]}"
    return name            # a typedef name


def c_expr(chk):
    _, designator, _, kind, top = chk
    if kind == "size":
        return f"sizeof({c_type(top)})"
    if kind == "align":
        return f"_Alignof({c_type(top)})"
    return f"offsetof({c_type(top)}, {designator})"


def compile_c(active):
    body = []
    lineno = {}
    n0 = prelude.count("\n") + 1
    for k, idx in enumerate(active):
        lineno[n0 + k] = idx
        body.append(f"\tFERRITE_LAYOUT({idx}, {c_expr(checks[idx])});\n")
    with open(os.path.join(out, "layout.c"), "w") as f:
        f.write(prelude + "".join(body) + "}\n")
    rc, log = run(c_command("-S", os.path.join(out, "layout.c"), os.path.join(out, "layout.s")),
                  os.path.join(out, "cc.log"))
    bad = set()
    if rc:
        for ln in re.findall(r"layout\.c:(\d+):\d+: error:", log):
            if int(ln) not in lineno:
                fail(f"C compile failed outside the checks, see {out}/cc.log\n{log[-3000:]}")
            bad.add(lineno[int(ln)])
        if not bad:
            fail(f"C compile failed, see {out}/cc.log\n{log[-3000:]}")
    return rc, bad


def read_markers(path):
    vals = {}
    with open(path) as f:
        for idx, v in re.findall(r"~FL (\d+) \$?(\d+)~", f.read()):
            vals[int(idx)] = int(v)
    return vals


# Anything C cannot spell (a bindgen-invented name) is dropped with a note,
# never silently: a second failure is fatal.
active = list(range(len(checks)))
rc, bad = compile_c(active)
dropped_c = []
if rc:
    # A type C cannot name takes all its checks with it.
    bad_types = {checks[i][4] for i in bad if checks[i][3] != "offset"}
    dropped_c = [checks[i][0] for i in active if i in bad or checks[i][4] in bad_types]
    active = [i for i in active if i not in bad and checks[i][4] not in bad_types]
    rc, bad = compile_c(active)
    if rc:
        fail(f"C compile failed twice, see {out}/cc.log")
c_vals = read_markers(os.path.join(out, "layout.s"))
missing = [checks[i][0] for i in active if i not in c_vals]
if missing:
    fail(f"C markers missing for {missing[:5]}, see {out}/layout.s")

# An empty struct has size 0 in C; its C alignment (empty but
# ____cacheline_aligned, like sched_statistics without SCHEDSTATS) has no Rust
# spelling bindgen uses. Harmless where it is embedded, since the offsets of
# the embedding struct are checked, so it is reported, not failed.
size_of_c = {checks[i][4]: c_vals[i] for i in active if checks[i][3] == "size"}
zst_align = {i for i in active
             if checks[i][3] == "align" and size_of_c.get(checks[i][4]) == 0 and c_vals[i] > 1}
active = [i for i in active if i not in zst_align]

# ---------------------------------------------------------------------------
# Rust side, compiled exactly as kbuild compiles a suite module.

rust_env, rust_argv = read_cmd(rust_cmdfile)


def rust_command(src, emit):
    res = []
    i = 0
    while i < len(rust_argv):
        a = rust_argv[i]
        if a.startswith("--emit="):
            pass
        elif a in ("--crate-name", "--out-dir"):
            i += 1
        elif a.endswith(".rs") and not a.startswith("-"):
            pass
        else:
            res.append(a)
        i += 1
    name = os.path.splitext(os.path.basename(src))[0]
    return res + ["--crate-name", name, "--out-dir", out, emit, src]


rust_head = """// SPDX-License-Identifier: GPL-2.0
//! Generated by scripts/ferrite/layout-check.sh: bindgen's view of the
//! layouts, checked against the C compiler's numbers.
#![allow(unused_imports)]
use core::mem::{align_of, offset_of, size_of};
use kernel::bindings as b;
use kernel::uapi as u;
"""
rust_env = dict(rust_env)
rust_env["RUST_MODFILE"] = "ferrite-layout/layout"
# The top Makefile exports this for every rustc it runs (the kernel uses
# unstable features on a stable compiler); the saved command does not show it.
rust_env["RUSTC_BOOTSTRAP"] = "1"

with open(os.path.join(out, "layout_check.rs"), "w") as f:
    f.write(rust_head)
    for i in active:
        what, _, expr, kind, _ = checks[i]
        f.write(f'const _: () = assert!({expr} == {c_vals[i]}, '
                f'"ferrite-layout: {what}: bindgen disagrees with C ({kind} {c_vals[i]})");\n')
rc, log = run(rust_command(os.path.join(out, "layout_check.rs"),
                           f"--emit=obj={out}/layout_check.o"),
              os.path.join(out, "rustc.log"), rust_env)

n_structs = len({checks[i][4] for i in active})
n_fields = sum(1 for i in active if checks[i][3] == "offset")
for i in sorted(zst_align):
    note(f"note: {label(checks[i][4])} is empty with C alignment {c_vals[i]}, which bindgen "
         "does not carry; the structs embedding it are checked instead")
if skipped_fwd:
    note(f"note: {len(skipped_fwd)} types only forward-declared, no layout: "
         + " ".join(sorted(skipped_fwd)))
if dropped_c:
    note(f"note: {len(dropped_c)} checks C cannot spell, skipped: " + " ".join(dropped_c[:20]))
elapsed = time.monotonic() - t_start

if rc == 0:
    # A check that cannot fail proves nothing: the same assertion with one value off by one
    # must stop the compiler, in this build, with this toolchain.
    i = active[0]
    with open(os.path.join(out, "layout_canary.rs"), "w") as f:
        f.write(rust_head)
        f.write(f'const _: () = assert!({checks[i][2]} == {c_vals[i] + 1}, '
                f'"ferrite-layout canary");\n')
    rc_canary, log_canary = run(rust_command(os.path.join(out, "layout_canary.rs"),
                                             f"--emit=obj={out}/layout_canary.o"),
                                os.path.join(out, "rustc-canary.log"), rust_env)
    if rc_canary == 0 or "ferrite-layout canary" not in log_canary:
        fail("a deliberately wrong value compiled: the layout check could not catch a mismatch")
    print(f"layout-check: {n_structs} structs, {n_fields} fields match "
          f"({elapsed:.1f} s, details in {out}); a wrong value is caught")
    sys.exit(0)

complaints = re.findall(r"ferrite-layout: ([^\n\"]*?): bindgen disagrees", log)
m = re.search(r"aborting due to (\d+) previous errors?", log)
if not complaints or not m or int(m.group(1)) != len(set(complaints)):
    fail(f"Rust compile failed for another reason, see {out}/rustc.log\n{log[-3000:]}")

# Ask bindgen's side for its numbers, for a report with both columns.
bad = [i for i in active if checks[i][0] in set(complaints)]
with open(os.path.join(out, "layout_values.rs"), "w") as f:
    f.write(rust_head)
    for i in bad:
        f.write(f'core::arch::global_asm!(".ascii \\"~FL {i} {{v}}~\\"", v = const {checks[i][2]});\n')
rc2, _ = run(rust_command(os.path.join(out, "layout_values.rs"),
                          f"--emit=asm={out}/layout_values.s"),
             os.path.join(out, "rustc-values.log"), rust_env)
r_vals = read_markers(os.path.join(out, "layout_values.s")) if rc2 == 0 else {}
table = [f"  {'what':<50} {'C':>8} {'Rust':>8}\n"]
table += [f"  {checks[i][0]:<50} {c_vals[i]:>8} {r_vals.get(i, '?'):>8}\n" for i in bad]
with open(os.path.join(out, "mismatches.txt"), "w") as f:
    f.writelines(table)
print(f"layout-check: FAILED: {len(bad)} of {len(active)} checks differ between "
      "C and bindgen's Rust bindings", file=sys.stderr)
shown = 40
sys.stderr.writelines(table[:shown + 1])
if len(bad) > shown:
    print(f"  ... {len(bad) - shown} more in {out}/mismatches.txt", file=sys.stderr)
print(f"layout-check: bindgen in use: {os.environ.get('BINDGEN', '?')}; the pinned version "
      f"is {os.environ.get('BINDGEN_VERSION', '?')}. Compiler output: {out}/rustc.log",
      file=sys.stderr)
sys.exit(1)
PY
