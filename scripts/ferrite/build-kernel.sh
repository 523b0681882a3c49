#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the ferrite test kernel: bzImage, modules and the kselftests.
#
# Incremental: the work tree is refreshed file by file, the configuration is
# regenerated only when its inputs change, and kbuild does the rest.

source "$(dirname "$0")/common.sh"

take_build_lock

"$FERRITE_SCRIPTS/prepare-tree.sh"

build=$(KBUILD)
mkdir -p "$build"
log "kernel $(kernel_pkg_version), $("$RUSTC" --version), $("$BINDGEN" --version)"
log "build directory $build"

# The configuration depends on the fragment and on every Kconfig file the
# suite adds or edits.
config_stamp=$(
	cd "$(KTREE)"
	{
		for f in $CONFIG_FRAGMENTS; do cat "kernel/configs/$f"; done
		# Files the overlay or the edits wrote are newer than the tree itself.
		find . -path ./tools -prune -o -name 'Kconfig*' -newer .ferrite-tree -print | sort |
			xargs -r cat
	} | sha256sum | cut -c1-16
)
if [ ! -f "$build/.config" ] || [ "$(cat "$build/.ferrite-config" 2>/dev/null)" != "$config_stamp" ]; then
	log "configuring (tinyconfig + kvm_guest.config + ${CONFIG_FRAGMENTS// / + })"
	kmake -s tinyconfig >/dev/null
	# shellcheck disable=SC2086 # one make target per fragment
	kmake -s kvm_guest.config $CONFIG_FRAGMENTS >/dev/null
	# The last fragment that sets a symbol wins, as in merge_config.sh.
	missing=$(cd "$(KTREE)/kernel/configs" && cat $CONFIG_FRAGMENTS |
		awk -F= '/^CONFIG_[A-Z0-9_]+=/ { want[$1] = $0 } END { for (s in want) print want[s] }' |
		grep -E '=[ym]$' |
		while read -r line; do grep -qx "$line" "$build/.config" || echo "$line"; done)
	[ -z "$missing" ] || die "config fragment not honoured: $(echo $missing)"
	echo "$config_stamp" >"$build/.ferrite-config"
fi

start=$(date +%s)
# Doctest symbols embed the source path and overflow kallsyms' name limit;
# that is harmless (the symbols are left out of kallsyms) and only noise here.
kmake bzImage modules 2>&1 |
	{ grep -v -E '^(Symbol .* too long for kallsyms|Please increase KSYM_NAME_LEN)' || true; }
kmake -s headers_install >/dev/null
log "kernel built in $(($(date +%s) - start)) s"

# The kselftest programs of tests.conf, against this kernel's UAPI headers.
for dir in $(for conf in tests.conf soak.conf; do
	"$FERRITE_SCRIPTS/testsconf.py" "$FERRITE_SCRIPTS/$conf" dirs
done | sort -u); do
	mkdir -p "$build/kselftest/$dir"
	make -s -C "$(KTREE)/tools/testing/selftests/$dir" OUTPUT="$build/kselftest/$dir" \
		KHDR_INCLUDES="-isystem $build/usr/include" all
done

"$FERRITE_SCRIPTS/layout-check.sh"
