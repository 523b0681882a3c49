#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make check': build, lint, boot the test kernel once and run every test.
#
#   check.sh [NAME...]   run only the named tests of tests.conf (after the
#                        same build and lint); the KUnit doctests always run.
#                        A name that is not in tests.conf fails at once.
#
# FERRITE_SUITE=soak (make soak) runs soak.conf instead: the long scale,
# stress and fuzz runs, in the same format.

source "$(dirname "$0")/common.sh"

start=$(date +%s)
case ${FERRITE_SUITE:-check} in
check) conf=$FERRITE_SCRIPTS/tests.conf ;;
soak) conf=$FERRITE_SCRIPTS/soak.conf ;;
*) die "FERRITE_SUITE must be check or soak" ;;
esac
"$FERRITE_SCRIPTS/testsconf.py" "$conf" check "$@" || exit 1
"$FERRITE_SCRIPTS/install-deps.sh"
take_run_lock
log "checking $(checkout_id)"
ensure_built
"$FERRITE_SCRIPTS/lint.sh"
"$FERRITE_SCRIPTS/series.sh" --no-build

out=$(KBUILD)/ferrite-${FERRITE_SUITE:-check}
status=0
"$FERRITE_SCRIPTS/run-guest.sh" --timeout 3600 --out "$out" -- \
	"$FERRITE_SCRIPTS/guest-tests.sh" "$(KBUILD)" "$(KBUILD)/kselftest" "$(KTREE)" \
	"$conf" "$@" || status=$?
touch "$out/output" "$out/dmesg"
checkout_id >"$out/checkout"
summary_status=0
"$FERRITE_SCRIPTS/check-summary.py" --conf "$conf" \
	--root "$FERRITE_ROOT" --pristine "$(PRISTINE)" \
	"$out/output" "$out/dmesg" "$status" "$@" || summary_status=$?
log "check of $(cat "$out/checkout") took $(($(date +%s) - start)) s; guest files in $out"
exit "$summary_status"
