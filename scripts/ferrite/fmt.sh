#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Format ferrite's Rust files with the kernel's rustfmt settings.

source "$(dirname "$0")/common.sh"
"$FERRITE_SCRIPTS/prepare-tree.sh"
cd "$FERRITE_ROOT"
git ls-files --cached --others --exclude-standard -- '*.rs' |
	xargs -r /usr/bin/rustfmt --edition 2021 --config-path "$(KTREE)/.rustfmt.toml"
