#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make': boot the freshly built test kernel, load every module of the suite
# and show each one working.

source "$(dirname "$0")/common.sh"

"$FERRITE_SCRIPTS/run-guest.sh" --timeout 900 -- "$FERRITE_SCRIPTS/guest-demo.sh" "$(KBUILD)"
