#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make check': build, lint, boot the test kernel once and run every test.
#
#   check.sh [NAME...]   run only the named tests of tests.conf (after the
#                        same build and lint); the KUnit doctests always run.

source "$(dirname "$0")/common.sh"

start=$(date +%s)
"$FERRITE_SCRIPTS/install-deps.sh"
"$FERRITE_SCRIPTS/build-kernel.sh"
"$FERRITE_SCRIPTS/lint.sh"
"$FERRITE_SCRIPTS/series.sh" --no-build

out=$(KBUILD)/ferrite-check
status=0
"$FERRITE_SCRIPTS/run-guest.sh" --timeout 3600 --out "$out" -- \
	"$FERRITE_SCRIPTS/guest-tests.sh" "$(KBUILD)" "$(KBUILD)/kselftest" "$(KTREE)" \
	"$FERRITE_SCRIPTS/tests.conf" "$@" || status=$?
touch "$out/output" "$out/dmesg"
summary_status=0
"$FERRITE_SCRIPTS/check-summary.py" "$out/output" "$out/dmesg" "$status" || summary_status=$?
log "check took $(($(date +%s) - start)) s; guest files in $out"
exit "$summary_status"
