#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install what ferrite needs on a fresh Debian 12 machine, skipping what is
# there already, and print the versions in use.

source "$(dirname "$0")/common.sh"

packages=(
	"$KSRC_PKG" rustc-web rust-web-src rust-web-clippy rustfmt-web
	clang-19 lld-19 llvm-19 libclang-19-dev
	qemu-system-x86 busybox-static kmod bc flex bison libelf-dev libssl-dev
	cpio make gcc gcc-multilib libc6-dev python3 python3-ply python3-git xz-utils rsync git
	e2fsprogs attr perl xfsprogs
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root to install packages: ${missing[*]}"
	apt-get update -q >/dev/null || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
		>/dev/null || die "could not install: ${missing[*]}"
fi

# bindgen must be exactly 0.69.5: 0.73.2 drops the alignment of empty
# cacheline-aligned structs and misplaces task_struct fields.
if [ "$("$BINDGEN" --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]; then
	command -v cargo >/dev/null || die "cargo is needed to install bindgen-cli $BINDGEN_VERSION"
	log "installing bindgen-cli $BINDGEN_VERSION from crates.io"
	cargo install --quiet --locked --force "bindgen-cli@$BINDGEN_VERSION" ||
		die "could not install bindgen-cli $BINDGEN_VERSION"
fi
[ "$("$BINDGEN" --version)" = "bindgen $BINDGEN_VERSION" ] ||
	die "$BINDGEN is not bindgen $BINDGEN_VERSION"

[ -x "$RUSTC" ] || die "$RUSTC missing (Debian rustc-web)"
[ -d /usr/lib/rustlib/src/rust/library ] || die "Rust library source missing (Debian rust-web-src)"
[ -e /dev/kvm ] && log "note: /dev/kvm is never used; the guest runs under TCG"

log "kernel:  $KSRC_PKG $(kernel_pkg_version)"
log "rustc:   $("$RUSTC" --version)"
log "clippy:  $(/usr/bin/clippy-driver --version)"
log "bindgen: $("$BINDGEN" --version)"
log "clang:   $(clang-19 --version | head -n1)"
log "qemu:    $(qemu-system-x86_64 --version | head -n1)"
