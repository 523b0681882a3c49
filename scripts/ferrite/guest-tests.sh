#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run inside the test guest: load each test's modules (with their
# parameters), run its kselftest program, unload the modules. Prints the
# programs' TAP output, one "ferrite-result:" line per program (exit status
# and seconds) and a TAP line per module unload, which check-summary.py
# counts.
#
#   guest-tests.sh KBUILD KSELFTEST KTREE TESTS_CONF [NAME...]
#
# A program named src:PATH is a script run from the kernel tree's
# tools/testing/selftests/PATH; every program gets KBUILD in its environment
# and /dev/null as its standard input.

kbuild=$1 kselftest=$2 ktree=$3 conf=$4
shift 4

list=$(python3 "$(dirname "$0")/testsconf.py" "$conf" run "$@") || exit 1
while IFS=$'\t' read -r -u 3 name modules program; do
	[ -n "$name" ] || continue
	echo "# ferrite: $name"
	# Ends any window a test opened in the kernel log (kernel-reports.sh).
	echo "ferrite: test $name starts" >/dev/kmsg
	loaded=()
	failed_load=
	IFS=, read -r -a mods <<<"$modules"
	for m in "${mods[@]}"; do
		[ "$m" = - ] && continue
		read -r path params <<<"$m"
		# shellcheck disable=SC2086 # params are words
		if insmod "$kbuild/$path" $params </dev/null; then
			loaded=("$(basename "$path" .ko)" "${loaded[@]}")
		else
			failed_load=$path
			break
		fi
	done
	start=$(date +%s)
	if [ -n "$failed_load" ]; then
		echo "ferrite-result: $name exit=load-failed($failed_load) seconds=0"
	else
		# VAR=value words first, then the program and its arguments.
		read -r -a words <<<"$program"
		vars=()
		while [[ "${words[0]}" == *=* ]]; do
			vars+=("${words[0]}")
			words=("${words[@]:1}")
		done
		case "${words[0]}" in
		src:*) prog=$ktree/tools/testing/selftests/${words[0]#src:} ;;
		*) prog=$kselftest/${words[0]} ;;
		esac
		timeout -k 5 1200 env KBUILD="$kbuild" "${vars[@]}" "$prog" "${words[@]:1}" </dev/null
		status=$?
		echo "ferrite-result: $name exit=$status seconds=$(($(date +%s) - start))"
	fi
	for m in "${loaded[@]}"; do
		if rmmod "$m" </dev/null; then
			echo "ok - unload $m"
		else
			echo "not ok - unload $m"
		fi
	done
done 3<<<"$list"
exit 0
