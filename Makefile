# SPDX-License-Identifier: GPL-2.0
#
# ferrite: Rust kernel modules for Linux 6.12, with their abstractions,
# tests and review tooling. See README.md.
#
#   make            install what is missing, build the test kernel and the
#                   suite, boot it and show every module working
#   make check      build, lint, and run every test in one boot
#   make lint       rustfmt, clippy, rustdoc and checkpatch on our files
#   make series     export and check the upstream patch series
#   make bench      build the benchmark kernel (no debug checks) and run
#                   the benchmarks side by side in one boot
#   make shell      boot the test kernel with an interactive shell
#   make test T=x   run only test x of scripts/ferrite/tests.conf
#   make soak       the long scale, stress and fuzz runs (soak.conf)

S := scripts/ferrite

.PHONY: all deps build demo check soak lint series bench shell test

all: deps
	@$(S)/demo.sh

deps:
	@$(S)/install-deps.sh

build: deps
	@$(S)/build-kernel.sh

check:
	@$(S)/check.sh

soak:
	@FERRITE_SUITE=soak $(S)/check.sh $(T)

test:
	@$(S)/check.sh $(T)

lint: deps
	@$(S)/lint.sh

series: deps
	@$(S)/series.sh

bench: deps
	@$(S)/bench.sh

shell: deps
	@$(S)/run-guest.sh --shell
