#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Lay the ferrite tree over a copy of the pristine 6.12 source.
#
# Unpacks the Debian linux-source tarball once into the cache, keeps a work
# tree beside it, copies the repository's in-tree files over it (only files
# whose contents changed are rewritten, so kbuild stays incremental), restores
# files the repository no longer carries, and applies the small edits to
# existing kernel files (apply-edits.py).

source "$(dirname "$0")/common.sh"

pristine=$(PRISTINE)
tree=$(KTREE)

if [ ! -f "$pristine/.ferrite-unpacked" ]; then
	[ -f "$KSRC_TARBALL" ] || die "$KSRC_TARBALL missing: run scripts/ferrite/install-deps.sh"
	log "unpacking $KSRC_TARBALL into $pristine"
	rm -rf "$pristine.tmp"
	mkdir -p "$pristine.tmp"
	tar -xf "$KSRC_TARBALL" -C "$pristine.tmp" --strip-components=1
	touch "$pristine.tmp/.ferrite-unpacked"
	rm -rf "$pristine"
	mv "$pristine.tmp" "$pristine"
fi

if [ ! -f "$tree/.ferrite-tree" ]; then
	log "creating work tree $tree"
	rm -rf "$tree"
	cp -a "$pristine" "$tree.tmp"
	rm -f "$tree.tmp/.ferrite-unpacked"
	touch "$tree.tmp/.ferrite-tree"
	mv "$tree.tmp" "$tree"
fi

# The repository's files, relative to its root.
cd "$FERRITE_ROOT"
new_manifest=$(mktemp)
trap 'rm -f "$new_manifest"' EXIT
for d in $OVERLAY_DIRS; do
	[ -d "$d" ] && git ls-files --cached --others --exclude-standard -- "$d"
done | sort -u >"$new_manifest"

# Files overlaid last time but gone now: restore the pristine copy.
old_manifest=$tree/.ferrite-manifest
if [ -f "$old_manifest" ]; then
	comm -23 "$old_manifest" "$new_manifest" | while read -r f; do
		if [ -f "$pristine/$f" ]; then
			cp -p "$pristine/$f" "$tree/$f"
		else
			rm -f "$tree/$f"
		fi
	done
fi

while read -r f; do
	[ -f "$f" ] || continue
	if ! cmp -s "$f" "$tree/$f"; then
		mkdir -p "$(dirname "$tree/$f")"
		cp "$f" "$tree/$f.ferrite-tmp"
		mv "$tree/$f.ferrite-tmp" "$tree/$f"
	fi
done <"$new_manifest"
cp "$new_manifest" "$old_manifest"

"$FERRITE_SCRIPTS/apply-edits.py" --from "$pristine" "$tree"
