#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make lint': the review gates for ferrite's own files, on a built tree.
#
# rustfmt (the kernel's .rustfmt.toml), clippy with the kernel's lint set,
# rustdoc and checkpatch --strict. Upstream 6.12 code is not judged: only
# diagnostics that point into files this repository adds count.

source "$(dirname "$0")/common.sh"
ensure_built

tree=$(KTREE)
build=$(KBUILD)
cd "$FERRITE_ROOT"
mapfile -t rust_files < <(git ls-files --cached --others --exclude-standard -- '*.rs')
mapfile -t c_files < <(git ls-files --cached --others --exclude-standard -- $OVERLAY_DIRS |
	grep -E '\.(c|h)$' || true)
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Keep only the diagnostics (blocks starting with "warning:" or "error:")
# that point into one of our files.
ours() {
	python3 -c '
import re, sys
ours = set(sys.argv[1:])
block, keep = [], False
def flush():
    if keep and block:
        print("\n".join(block))
for line in sys.stdin.read().splitlines():
    if re.match(r"^(warning|error)(\[\w+\])?: ", line):
        flush()
        block, keep = [line], False
        continue
    block.append(line)
    m = re.match(r"^\s*--> (\S+?):\d+", line)
    if m and any(m.group(1).endswith("/" + f) or m.group(1) == f for f in ours):
        keep = True
flush()
' "${rust_files[@]}"
}

log "lint: rustfmt"
if [ ${#rust_files[@]} -gt 0 ]; then
	/usr/bin/rustfmt --edition 2021 --config-path "$tree/.rustfmt.toml" --check \
		"${rust_files[@]}" || { log "rustfmt: run scripts/ferrite/fmt.sh"; failed=1; }
fi

# clippy: rerun the exact rustc command kbuild used for each crate of ours
# through clippy-driver, emitting only metadata into a scratch directory.
log "lint: clippy"
crates=(rust/.kernel.o.cmd)
for f in "${rust_files[@]}"; do
	case "$f" in rust/*) continue ;; esac
	cmd=$(dirname "$f")/.$(basename "$f" .rs).o.cmd
	[ -f "$build/$cmd" ] && crates+=("$cmd")
done
# The top-level Makefile sets RUSTC_BOOTSTRAP=1 for every rustc it runs; the
# saved commands do not show it. Anything after ';' is objtool's step.
export RUSTC_BOOTSTRAP=1
for cmd in "${crates[@]}"; do
	line=$(sed -n 's/^savedcmd_[^ ]* := //p' "$build/$cmd")
	line=${line%%; *}
	line=${line//\/usr\/bin\/rustc /\/usr\/bin\/clippy-driver }
	line=$(sed -E "s#--emit=[a-z-]+=[^ ]+##g" <<<"$line")
	if ! (cd "$build" && eval "$line --emit=metadata=$tmp/lint.rmeta") >"$tmp/clippy.log" 2>&1; then
		cat "$tmp/clippy.log"
		log "clippy could not check $cmd"
		failed=1
	fi
	report=$(ours <"$tmp/clippy.log")
	if [ -n "$report" ]; then
		echo "$report"
		failed=1
	fi
done

log "lint: rustdoc"
kmake rustdoc >"$tmp/rustdoc.log" 2>&1 || { cat "$tmp/rustdoc.log"; failed=1; }
report=$(ours <"$tmp/rustdoc.log")
if [ -n "$report" ]; then
	echo "$report"
	failed=1
fi

log "lint: checkpatch --strict"
for f in "${rust_files[@]}" "${c_files[@]}"; do
	"$tree/scripts/checkpatch.pl" --strict --quiet --no-tree --no-summary --show-types \
		--ignore FILE_PATH_CHANGES -f "$f" || failed=1
done

log "lint: kernel-reports.sh on synthetic logs"
"$FERRITE_SCRIPTS/kernel-reports-test.sh" || failed=1

[ "$failed" = 0 ] || die "lint failed"
log "lint: clean"
