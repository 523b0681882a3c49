#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run inside the test guest: load each test's modules (with their
# parameters), run its kselftest program, unload the modules. Prints the programs' TAP output plus one
# "ferrite-result:" line per program and a TAP line per module unload, which
# check-summary.py counts.
#
#   guest-tests.sh KBUILD KSELFTEST KTREE TESTS_CONF [NAME...]
#
# A program named src:PATH is a script run from the kernel tree's
# tools/testing/selftests/PATH; every program gets KBUILD in its environment.

kbuild=$1 kselftest=$2 ktree=$3 conf=$4
shift 4
only=" $* "

while IFS=$'\t' read -r name modules program; do
	case "$name" in '#'* | '') continue ;; esac
	[ "$only" = "  " ] || [[ "$only" == *" $name "* ]] || continue
	echo "# ferrite: $name"
	loaded=()
	failed_load=
	IFS=, read -r -a mods <<<"$modules"
	for m in "${mods[@]}"; do
		[ "$m" = - ] && continue
		read -r path params <<<"$m"
		# shellcheck disable=SC2086 # params are words
		if insmod "$kbuild/$path" $params; then
			loaded=("$(basename "$path" .ko)" "${loaded[@]}")
		else
			failed_load=$path
			break
		fi
	done
	if [ -n "$failed_load" ]; then
		echo "ferrite-result: $name exit=load-failed ($failed_load)"
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
		timeout -k 5 1200 env KBUILD="$kbuild" "${vars[@]}" "$prog" "${words[@]:1}"
		echo "ferrite-result: $name exit=$?"
	fi
	for m in "${loaded[@]}"; do
		if rmmod "$m"; then
			echo "ok - unload $m"
		else
			echo "not ok - unload $m"
		fi
	done
done <"$conf"
exit 0
