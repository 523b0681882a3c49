# SPDX-License-Identifier: GPL-2.0
# Shared settings for the ferrite scripts: sourced, never run.
#
# The kernel source, work tree and build output live in a cache outside the
# repository ($FERRITE_CACHE, default ~/.cache/ferrite), keyed by the Debian
# kernel package version, the config fragment and the toolchain, so that
# re-runs are incremental and a fresh clone reuses an earlier build.

set -euo pipefail

FERRITE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# CI may run with a bare environment: fall back to the user's home and
# find cargo where rustup puts it.
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
export HOME PATH="$PATH:$HOME/.cargo/bin"
FERRITE_CACHE=${FERRITE_CACHE:-$HOME/.cache/ferrite}
FERRITE_SCRIPTS=$FERRITE_ROOT/scripts/ferrite

KSRC_PKG=linux-source-6.12
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
BINDGEN_VERSION=0.69.5
BINDGEN=${BINDGEN:-$HOME/.cargo/bin/bindgen}
RUSTC=/usr/bin/rustc
RUSTDOC=/usr/bin/rustdoc
export LIBCLANG_PATH=/usr/lib/llvm-19/lib

# Directories of the repository that are laid over the kernel source.
OVERLAY_DIRS="Documentation drivers fs include kernel rust samples tools"

die() {
	echo "ferrite: error: $*" >&2
	exit 1
}

log() {
	echo "ferrite: $*" >&2
}

kernel_pkg_version() {
	dpkg-query -W -f='${Version}' "$KSRC_PKG" 2>/dev/null ||
		die "$KSRC_PKG is not installed: run scripts/ferrite/install-deps.sh"
}

toolchain_id() {
	{
		"$RUSTC" --version
		"$BINDGEN" --version
		clang-19 --version | head -n1
	} | sha256sum | cut -c1-12
}

# Which kernel to build and boot: "test" (with every debug check, what the
# tests run on) or "bench" (without them, what the benchmarks run on).
FERRITE_FLAVOUR=${FERRITE_FLAVOUR:-test}
case $FERRITE_FLAVOUR in
test) CONFIG_FRAGMENTS="ferrite.config ferrite-modules.config" ;;
bench) CONFIG_FRAGMENTS="ferrite.config ferrite-modules.config ferrite-bench.config" ;;
*) die "FERRITE_FLAVOUR must be test or bench, not '$FERRITE_FLAVOUR'" ;;
esac

# Everything that, when it changes, calls for a fresh build directory.
build_key() {
	{
		kernel_pkg_version
		cat "$FERRITE_ROOT/kernel/configs/ferrite.config"
		[ "$FERRITE_FLAVOUR" = test ] || cat "$FERRITE_ROOT/kernel/configs/ferrite-bench.config"
		toolchain_id
	} | sha256sum | cut -c1-12
}

kver_dir() {
	echo "$FERRITE_CACHE/linux-$(kernel_pkg_version)"
}

PRISTINE() { echo "$(kver_dir)/pristine"; }
KTREE() { echo "$(kver_dir)/tree"; }
KBUILD() { echo "$(kver_dir)/build-$(build_key)"; }

# Every checkout on this machine shares the work tree, the build directory
# and the guest's result files: a run holds this lock from refreshing the
# tree until it has read its results, so that what it reports belongs to
# the checkout and commit that started it (and two kernel builds on a small
# machine take turns instead of slowing each other). Scripts started under
# a holder inherit it; it is released when the holder exits.
take_run_lock() {
	[ -z "${FERRITE_LOCKED:-}" ] || return 0
	mkdir -p "$HOME/.cache"
	local lock=${FERRITE_BUILD_LOCK:-$HOME/.cache/ferrite-build.lock}
	exec 9>"$lock"
	if ! flock -n 9; then
		log "another ferrite run holds $lock: waiting for it"
		flock 9 || die "cannot take $lock"
	fi
	export FERRITE_LOCKED=1
}
take_build_lock() { take_run_lock; }

# Build (incrementally) once per run, under the lock.
ensure_built() {
	take_run_lock
	[ -z "${FERRITE_BUILT:-}" ] || return 0
	"$FERRITE_SCRIPTS/build-kernel.sh"
	export FERRITE_BUILT=1
}

# The commit a run tests, and whether the checkout had local changes.
checkout_id() {
	local id
	id=$(git -C "$FERRITE_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$FERRITE_ROOT" status --porcelain 2>/dev/null)" ]; then
		id+=" with local changes"
	fi
	echo "$id ($FERRITE_ROOT)"
}

kmake() {
	make -C "$(KTREE)" O="$(KBUILD)" LLVM=-19 RUSTC="$RUSTC" \
		RUSTDOC="$RUSTDOC" BINDGEN="$BINDGEN" -j"$(nproc)" "$@"
}
