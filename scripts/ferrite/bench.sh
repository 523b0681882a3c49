#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make bench': run every benchmark of benches.conf side by side in one boot.
#
# Each line of benches.conf names a guest script that prints its table and
# its "target <module>-<name>: measured ..., goal ...: met|missed" lines.

# Benchmarks run on the kernel without debug checks (ferrite-bench.config)
# unless FERRITE_FLAVOUR=test asks for the test kernel.
export FERRITE_FLAVOUR=${FERRITE_FLAVOUR:-bench}
source "$(dirname "$0")/common.sh"

mapfile -t benches < <(grep -v '^#' "$FERRITE_SCRIPTS/benches.conf" | grep -v '^$' || true)
if [ ${#benches[@]} -eq 0 ]; then
	log "no benchmarks are registered yet (scripts/ferrite/benches.conf)"
	exit 0
fi
ensure_built
log "benchmarks on the $FERRITE_FLAVOUR kernel"
out=$(KBUILD)/ferrite-bench
# run-guest.sh runs its arguments, joined, as a bash script line.
"$FERRITE_SCRIPTS/run-guest.sh" --timeout 3600 --out "$out" -- \
	"for b in ${benches[*]}; do $FERRITE_ROOT/\$b $(KBUILD) || exit 1; done"
