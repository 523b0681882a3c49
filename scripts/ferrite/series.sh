#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Export ferrite as a git format-patch series against the pristine 6.12 source
# and check it (make series).
#
# The series is described by series.conf: the patches in order, each with its
# subject, commit message, the repository paths it adds and the apply-edits.py
# edits it applies, plus the cover letter and the files kept out of the series.
#
# A git repository of the pristine source is created once in the cache (one
# commit, fixed identity and date, so its hash is reproducible). Each run
# resets a branch to it, builds one commit per patch, runs git format-patch
# into the output folder and checks the result:
#
#   - every repository file under OVERLAY_DIRS and every edit belongs to
#     exactly one patch, or is excluded in series.conf;
#   - subjects and commit messages are well formed;
#   - checkpatch.pl --strict of the tree reports nothing on any patch, except
#     the report types series.conf allows for that patch;
#   - the MAINTAINERS sections the series adds are in alphabetical order;
#   - with --build (the default), every patch builds: an incremental
#     bzImage + modules build of each commit in order, in its own build
#     directory, with the test kernel configuration.

source "$(dirname "$0")/common.sh"

usage() {
	cat <<EOF
usage: ${0##*/} [options]

  --build           build every patch in order (the default)
  --no-build        skip the per-patch build
  --check-conf      only parse series.conf and check that every file and
                    edit belongs to exactly one patch; no git work
  -o, --output DIR  write the patches to DIR (default \$FERRITE_CACHE/series/patches)
  -v, --reroll-count N
                    mark the series as version N ([PATCH vN ...])
  --rfc             mark the series as [RFC PATCH]
  -h, --help        show this text

Environment: SERIES_DATE, a Unix time used as the date of the first patch
(default: fixed, so that the output is reproducible).
EOF
}

do_build=1
check_conf_only=0
out_dir=
fp_opts=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) do_build=1 ;;
	--no-build) do_build=0 ;;
	--check-conf) check_conf_only=1 ;;
	-o | --output)
		[ $# -ge 2 ] || die "$1 needs a directory"
		out_dir=$2
		shift
		;;
	-v | --reroll-count)
		[[ ${2:-} =~ ^[0-9]+$ ]] || die "$1 needs a number"
		fp_opts+=("--reroll-count=$2")
		shift
		;;
	--rfc) fp_opts+=(--rfc) ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	shift
done

SERIES_CONF=$FERRITE_SCRIPTS/series.conf
IDENT_NAME="Ferrite developers"
IDENT_EMAIL="ferrite-devel@example.org"
# 2025-01-01 00:00:00 UTC: the date of the base commit, and by default of
# the first patch (the next ones follow a minute apart).
BASE_DATE=1735689600
SERIES_DATE=${SERIES_DATE:-$BASE_DATE}
BASE_BRANCH=pristine
SERIES_BRANCH=ferrite-series
SUBJECT_MAX=72
BODY_MAX=75

# ---------------------------------------------------------------------------
# series.conf

P_SUBJECT=()
P_PATHS=()
P_EDITS=()
P_ALLOW=()
P_BODY=()
P_LINE=()
npatch=0
COVER_SUBJECT=
COVER_BODY=
EXCL_ITEM=()
EXCL_REASON=()
conf_errors=()

conf_error() {
	conf_errors+=("series.conf:$1: $2")
}

# Drop leading and trailing blank lines of a text.
trim_blank() {
	printf '%s\n' "$1" | awk '
		NF { for (; blanks > 0; blanks--) print ""; print; seen = 1; next }
		seen { blanks++ }'
}

parse_conf() {
	local line lineno=0 section= in_header=0 key= val cur= rest cover_seen=0
	[ -f "$SERIES_CONF" ] || die "$SERIES_CONF missing"
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		line=${line%$'\r'}
		case $line in
		'#'*) continue ;;
		'[cover]' | '[patch]' | '[exclude]')
			section=${line:1:-1}
			in_header=1
			key=
			if [ "$section" = patch ]; then
				npatch=$((npatch + 1))
				cur=$npatch
				P_SUBJECT[cur]= P_PATHS[cur]= P_EDITS[cur]= P_ALLOW[cur]=
				P_BODY[cur]= P_LINE[cur]=$lineno
			elif [ "$section" = cover ]; then
				[ $cover_seen = 0 ] || conf_error $lineno "second [cover]"
				cover_seen=1
			fi
			continue
			;;
		'['*']')
			conf_error $lineno "unknown section $line"
			section=skip
			continue
			;;
		esac
		if [ -z "$section" ]; then
			[[ $line =~ ^[[:space:]]*$ ]] || conf_error $lineno "text outside a section"
			continue
		fi
		[ "$section" != skip ] || continue

		if [ "$section" = exclude ]; then
			[[ $line =~ ^[[:space:]]*$ ]] && continue
			read -r key rest <<<"$line"
			[ -n "$rest" ] || conf_error $lineno "exclusion '$key' needs a reason"
			EXCL_ITEM+=("$key")
			EXCL_REASON+=("$rest")
			continue
		fi

		if [ $in_header = 1 ]; then
			if [[ $line =~ ^[[:space:]]*$ ]]; then
				in_header=0
				continue
			elif [[ $line =~ ^([a-z]+):[[:space:]]*(.*[^[:space:]])?[[:space:]]*$ ]]; then
				key=${BASH_REMATCH[1]}
				val=${BASH_REMATCH[2]}
				case $section/$key in
				cover/subject)
					COVER_SUBJECT=$val
					;;
				patch/subject)
					[ -z "${P_SUBJECT[cur]}" ] || conf_error $lineno "second subject"
					P_SUBJECT[cur]=$val
					;;
				patch/paths) P_PATHS[cur]+=" $val" ;;
				patch/edits) P_EDITS[cur]+=" $val" ;;
				patch/allow)
					if [[ $val =~ ^([A-Z0-9_]+)[[:space:]]+(.+)$ ]]; then
						P_ALLOW[cur]+="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"$'\n'
					else
						conf_error $lineno "allow: needs a checkpatch TYPE and a reason"
					fi
					;;
				*)
					conf_error $lineno "unknown key '$key:' in [$section]"
					key=
					;;
				esac
			elif [[ $line =~ ^[[:space:]]+(.*[^[:space:]])[[:space:]]*$ ]] && [ -n "$key" ]; then
				# Continuation of the previous key.
				val=${BASH_REMATCH[1]}
				case $section/$key in
				patch/paths) P_PATHS[cur]+=" $val" ;;
				patch/edits) P_EDITS[cur]+=" $val" ;;
				patch/allow) P_ALLOW[cur]="${P_ALLOW[cur]%$'\n'} $val"$'\n' ;;
				*) conf_error $lineno "'$key:' takes one line" ;;
				esac
			else
				conf_error $lineno "expected 'key: value' or a blank line before the body"
			fi
			continue
		fi

		if [ "$section" = cover ]; then
			COVER_BODY+=$line$'\n'
		else
			P_BODY[cur]+=$line$'\n'
		fi
	done <"$SERIES_CONF"

	COVER_BODY=$(trim_blank "$COVER_BODY")
	local i
	for ((i = 1; i <= npatch; i++)); do
		P_BODY[i]=$(trim_blank "${P_BODY[i]}")
	done
}

# Check one subject and message body; $1 is the place for messages.
check_message() {
	local where=$1 subject=$2 body=$3 line n=0
	if [ -z "$subject" ]; then
		conf_error "$where" "missing subject"
	else
		[ ${#subject} -le $SUBJECT_MAX ] ||
			conf_error "$where" "subject longer than $SUBJECT_MAX characters: $subject"
		[[ $subject != *. ]] || conf_error "$where" "subject ends with a period: $subject"
	fi
	[ -n "$body" ] || conf_error "$where" "missing message body"
	while IFS= read -r line; do
		n=$((n + 1))
		[ ${#line} -le $BODY_MAX ] ||
			conf_error "$where" "body line $n longer than $BODY_MAX columns: $line"
		[[ $line != *[[:space:]] ]] || conf_error "$where" "body line $n has trailing white space"
		[[ $line != *$'\t'* ]] || conf_error "$where" "body line $n has a tab"
	done <<<"$body"
}

# The repository's files that prepare-tree.sh lays over the kernel, one per
# line, as it lists them.
repo_files() {
	(
		cd "$FERRITE_ROOT"
		for d in $OVERLAY_DIRS; do
			[ -d "$d" ] && git ls-files --cached --others --exclude-standard -- "$d"
		done | sort -u | while read -r f; do
			[ -f "$f" ] && echo "$f"
		done
	)
}

# Does conf path $1 (a file or a directory) cover repository file $2?
covers() {
	local p=${1%/}
	[ "$2" = "$p" ] || [[ $2 == "$p/"* ]]
}

declare -A FILE_OWNER # repository file -> patch number
declare -A EDIT_OWNER # edit name -> patch number

check_conf() {
	local i f p e owners n t r files edits all_edits
	[ $npatch -gt 0 ] || conf_error 1 "no [patch]"
	check_message cover "$COVER_SUBJECT" "$COVER_BODY"
	for ((i = 1; i <= npatch; i++)); do
		check_message "${P_LINE[i]}" "${P_SUBJECT[i]}" "${P_BODY[i]}"
		[ -n "${P_PATHS[i]// /}${P_EDITS[i]// /}" ] ||
			conf_error "${P_LINE[i]}" "patch $i has neither paths nor edits"
	done

	mapfile -t files < <(repo_files)
	all_edits=$("$FERRITE_SCRIPTS/apply-edits.py" --list)

	# Every listed path must match something, so that a renamed or
	# deleted file is noticed.
	for ((i = 1; i <= npatch; i++)); do
		for p in ${P_PATHS[i]}; do
			n=0
			for f in "${files[@]}"; do covers "$p" "$f" && n=1 && break; done
			[ $n = 1 ] || conf_error "${P_LINE[i]}" \
				"patch $i: '$p' matches no repository file under OVERLAY_DIRS ($OVERLAY_DIRS)"
		done
		for e in ${P_EDITS[i]}; do
			grep -qxF -- "$e" <<<"$all_edits" ||
				conf_error "${P_LINE[i]}" "patch $i: no edit '$e' in apply-edits.py"
		done
	done
	for t in "${EXCL_ITEM[@]}"; do
		if [[ $t == edit:* ]]; then
			grep -qxF -- "${t#edit:}" <<<"$all_edits" ||
				conf_error exclude "no edit '${t#edit:}' in apply-edits.py"
			continue
		fi
		n=0
		for f in "${files[@]}"; do covers "$t" "$f" && n=1 && break; done
		[ $n = 1 ] || conf_error exclude "'$t' matches no repository file under OVERLAY_DIRS"
	done

	# Every file in exactly one patch, or excluded.
	for f in "${files[@]}"; do
		owners=()
		for ((i = 1; i <= npatch; i++)); do
			for p in ${P_PATHS[i]}; do
				if covers "$p" "$f"; then
					owners+=("patch $i")
					FILE_OWNER[$f]=$i
					break
				fi
			done
		done
		for t in "${EXCL_ITEM[@]}"; do
			[[ $t == edit:* ]] && continue
			covers "$t" "$f" && owners+=("[exclude]") && break
		done
		case ${#owners[@]} in
		1) ;;
		0) conf_errors+=("$f: in no patch of series.conf (add it to a patch's paths, or to [exclude] with a reason)") ;;
		*) conf_errors+=("$f: in more than one place in series.conf: ${owners[*]}") ;;
		esac
	done

	# Every edit in exactly one patch, or excluded.
	for e in $all_edits; do
		owners=()
		for ((i = 1; i <= npatch; i++)); do
			for t in ${P_EDITS[i]}; do
				if [ "$t" = "$e" ]; then
					owners+=("patch $i")
					EDIT_OWNER[$e]=$i
				fi
			done
		done
		for t in "${EXCL_ITEM[@]}"; do
			[ "$t" = "edit:$e" ] && owners+=("[exclude]")
		done
		case ${#owners[@]} in
		1) ;;
		0) conf_errors+=("edit '$e': in no patch of series.conf (add it to a patch's edits, or exclude it as edit:$e)") ;;
		*) conf_errors+=("edit '$e': in more than one place in series.conf: ${owners[*]}") ;;
		esac
	done

	if [ ${#conf_errors[@]} -gt 0 ]; then
		printf 'ferrite: series: %s\n' "${conf_errors[@]}" >&2
		die "series.conf does not describe the repository (${#conf_errors[@]} problems)"
	fi
}

parse_conf
check_conf
if [ $check_conf_only = 1 ]; then
	log "series.conf: $npatch patches, ${#FILE_OWNER[@]} files, ${#EDIT_OWNER[@]} edits, ${#EXCL_ITEM[@]} exclusions: complete"
	exit 0
fi

# ---------------------------------------------------------------------------
# The pristine repository and its work trees

kver=$(kver_dir)
pristine=$(PRISTINE)
# The pristine repository; its work tree is where the series is composed.
work=$kver/series-work
git_dir=$work/.git
out_dir=$(realpath -m "${out_dir:-$FERRITE_CACHE/series/patches}")
logs_dir=$(dirname "$out_dir")/logs
[ "$(basename "$out_dir")" != logs ] || die "the output folder must not be called logs"
case $out_dir/ in
"$FERRITE_ROOT"/*) die "the output folder must be outside the repository" ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$kver"
exec 9>"$kver/series.lock"
flock -n 9 || die "another series.sh is running (lock $kver/series.lock)"

# git, isolated from the user's and the system's configuration (format.*,
# diff.* and commit.* settings there would change the patches), as the
# series identity. sgit runs in a work tree (-C DIR), bgit on the pristine
# repository itself.
sgit() {
	GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
		GIT_AUTHOR_NAME="$IDENT_NAME" GIT_AUTHOR_EMAIL="$IDENT_EMAIL" \
		GIT_COMMITTER_NAME="$IDENT_NAME" GIT_COMMITTER_EMAIL="$IDENT_EMAIL" \
		git "$@"
}
bgit() { sgit --git-dir="$git_dir" "$@"; }

kernel_release() {
	awk '/^VERSION =/ { v = $3 } /^PATCHLEVEL =/ { p = $3 } /^SUBLEVEL =/ { s = $3 }
		END { print v "." p "." s }' "$pristine/Makefile"
}

ensure_base() {
	local start release
	[ -f "$git_dir/ferrite-base" ] && return
	[ -f "$pristine/.ferrite-unpacked" ] ||
		die "no pristine source in $pristine: run scripts/ferrite/prepare-tree.sh first"
	release=$(kernel_release)
	log "creating the pristine git repository in $work (once; this takes a while)"
	start=$(date +%s)
	# The build work tree belongs to any earlier repository: drop it too.
	rm -rf "$work.tmp" "$work" "$kver/series-build-src"
	sgit init -q --template= "$work.tmp"
	(
		git_dir=$work.tmp/.git
		bgit config gc.auto 0
		bgit symbolic-ref HEAD "refs/heads/$BASE_BRANCH"
		# --force: the tarball carries files its own .gitignore files match.
		GIT_WORK_TREE=$pristine bgit add --all --force -- . ':!.ferrite-unpacked'
		GIT_AUTHOR_DATE="@$BASE_DATE +0000" GIT_COMMITTER_DATE="@$BASE_DATE +0000" \
			GIT_WORK_TREE=$pristine bgit commit -q --no-verify -m "Linux $release" \
			-m "Debian $KSRC_PKG $(kernel_pkg_version), unpacked as it is."
		log "packing"
		bgit repack -a -d -q --window=0
		bgit prune-packed
		log "checking out"
		sgit -C "$work.tmp" reset -q --hard
	)
	touch "$work.tmp/.git/ferrite-base"
	mv "$work.tmp" "$work"
	log "pristine git repository created in $(($(date +%s) - start)) s:" \
		"$(bgit log -1 --format='%h %s' "$BASE_BRANCH")"
}

# A work tree of the pristine repository at $1, checked out at the base.
ensure_worktree() {
	local dir=$1
	if [ ! -e "$dir/.git" ]; then
		log "checking out $dir"
		bgit worktree prune
		rm -rf "$dir"
		bgit worktree add -q --detach "$dir" "$BASE_BRANCH"
	fi
}

# ---------------------------------------------------------------------------
# Commits and patches

COMMITS=()

# The date of patch $1, a minute after the previous one.
patch_date() {
	echo "@$((SERIES_DATE + 60 * ($1 - 1))) +0000"
}

make_commits() {
	local i f msg=$tmp/message
	sgit -C "$work" checkout -q -f -B "$SERIES_BRANCH" "$BASE_BRANCH"
	sgit -C "$work" clean -q -ffdx
	for ((i = 1; i <= npatch; i++)); do
		for f in "${!FILE_OWNER[@]}"; do
			[ "${FILE_OWNER[$f]}" = "$i" ] || continue
			mkdir -p "$(dirname "$work/$f")"
			cp "$FERRITE_ROOT/$f" "$work/$f"
			sgit -C "$work" add --force -- "$f"
		done
		# shellcheck disable=SC2086
		[ -z "${P_EDITS[i]// /}" ] || "$FERRITE_SCRIPTS/apply-edits.py" "$work" ${P_EDITS[i]}
		sgit -C "$work" add --update
		# Anything left out of the commit is a file apply-edits.py wrote
		# but git does not track.
		if [ -n "$(sgit -C "$work" ls-files --others)" ] || ! sgit -C "$work" diff --quiet; then
			sgit -C "$work" status --short --untracked-files=all --ignored >&2
			die "patch $i: changes left out of the commit in $work"
		fi
		! sgit -C "$work" diff --cached --quiet || die "patch $i (${P_SUBJECT[i]}) changes nothing"
		printf '%s\n\n%s\n' "${P_SUBJECT[i]}" "${P_BODY[i]}" >"$msg"
		GIT_AUTHOR_DATE=$(patch_date "$i") GIT_COMMITTER_DATE=$(patch_date "$i") \
			sgit -C "$work" commit -q --no-verify --signoff --cleanup=whitespace -F "$msg"
		COMMITS[i]=$(sgit -C "$work" rev-parse HEAD)
	done
}

# Text for the cover letter: series.conf's body and a short summary.
cover_blurb() {
	local i type reason
	printf '%s\n\n' "$COVER_BODY"
	printf 'The series applies to Linux %s, as in Debian %s %s.\n' \
		"$(kernel_release)" "$KSRC_PKG" "$(kernel_pkg_version)" | fold -s -w 72 | sed 's/ *$//'
	if [ -n "$(printf '%s' "${P_ALLOW[@]}")" ]; then
		printf '\ncheckpatch.pl --strict reports these on purpose:\n\n'
		for ((i = 1; i <= npatch; i++)); do
			while read -r type reason; do
				[ -n "$type" ] || continue
				printf -- '- patch %d, %s: %s\n' "$i" "$type" "$reason" |
					fold -s -w 72 | sed -e 's/ *$//' -e '2,$s/^/  /'
			done <<<"${P_ALLOW[i]}"
		done
	fi
}

# The file format-patch wrote for patch $1 (0: the cover letter).
patch_file() {
	local f
	for f in "$out_dir"/*"$(printf '%04d' "$1")"-*.patch; do
		[ -f "$f" ] && echo "$f" && return
	done
	return 0
}

write_patches() {
	local cover subject_file=$tmp/subject blurb_file=$tmp/blurb
	mkdir -p "$out_dir"
	rm -f "$out_dir"/*.patch
	# The cover letter takes the committer date: that of the last patch.
	GIT_COMMITTER_DATE=$(patch_date "$npatch") \
		sgit -C "$work" format-patch -q --cover-letter "${fp_opts[@]}" \
		-o "$out_dir" "$BASE_BRANCH..$SERIES_BRANCH"
	cover=$(patch_file 0)
	[ -f "$cover" ] || die "git format-patch wrote no cover letter"
	printf '%s\n' "$COVER_SUBJECT" >"$subject_file"
	cover_blurb >"$blurb_file"
	awk -v subject_file="$subject_file" -v blurb_file="$blurb_file" '
		BEGIN {
			getline subject <subject_file
			while ((getline l <blurb_file) > 0) blurb = blurb l "\n"
		}
		/^Subject: / && (i = index($0, "*** SUBJECT HERE ***")) {
			$0 = substr($0, 1, i - 1) subject substr($0, i + 20)
		}
		$0 == "*** BLURB HERE ***" { printf "%s", blurb; next }
		{ print }' "$cover" >"$cover.tmp"
	mv "$cover.tmp" "$cover"
	! grep -q '\*\*\* \(SUBJECT\|BLURB\) HERE \*\*\*' "$cover" ||
		die "cover letter placeholders left in $cover"
}

# ---------------------------------------------------------------------------
# Checks

P_FILE=()
P_CHECKPATCH=()
P_BUILD=()
STALE_ALLOW=()
MAINT_ORDER="not checked"

run_checkpatch() {
	local i f report types bad failed=0 type reason
	# checkpatch.pl validates SPDX tags with scripts/spdxcheck.py, which
	# needs these; without them it prints a traceback and checks nothing.
	# Its python3 is the system one, where the Debian packages are.
	local path=/usr/bin:$PATH
	PATH=$path python3 -c 'import ply, git' 2>/dev/null ||
		die "checkpatch.pl needs python3-ply and python3-git (scripts/spdxcheck.py): apt-get install python3-ply python3-git"
	mkdir -p "$logs_dir"
	rm -f "$logs_dir"/checkpatch-*.txt
	for ((i = 1; i <= npatch; i++)); do
		f=$(patch_file "$i")
		[ -f "$f" ] || die "no patch file for patch $i in $out_dir"
		P_FILE[i]=$f
		report=$logs_dir/checkpatch-$(printf '%04d' "$i").txt
		# checkpatch exits non-zero on any report: judge its output.
		(cd "$work" && PATH=$path GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
			./scripts/checkpatch.pl --strict --show-types --color=never "$f") \
			>"$report" 2>&1 || true
		if ! grep -q '^total: ' "$report" || grep -q '^Traceback' "$report"; then
			cat "$report" >&2
			die "checkpatch.pl did not run properly on $f"
		fi
		types=$(sed -n 's/^\(ERROR\|WARNING\|CHECK\):\([A-Z0-9_]*\):.*/\2/p' "$report" | sort -u)
		bad=
		for type in $types; do
			awk -v t="$type" '$1 == t { found = 1 } END { exit !found }' \
				<<<"${P_ALLOW[i]}" || bad+=" $type"
		done
		while read -r type reason; do
			[ -n "$type" ] || continue
			grep -qxF "$type" <<<"$types" ||
				STALE_ALLOW+=("patch $i: allow $type is not reported any more; drop it from series.conf")
		done <<<"${P_ALLOW[i]}"
		if [ -n "$bad" ]; then
			P_CHECKPATCH[i]="FAILED:$bad"
			failed=1
			echo "---- checkpatch.pl --strict ${f##*/}" >&2
			cat "$report" >&2
		elif [ -n "$types" ]; then
			P_CHECKPATCH[i]="clean (allowed:$(echo $types))"
		else
			P_CHECKPATCH[i]=clean
		fi
	done
	return $failed
}

# checkpatch.pl does not look at where a MAINTAINERS section goes: check
# that every section the series adds sits in alphabetical order (ignoring
# case, as the file is sorted) between its neighbours.
check_maintainers_order() {
	local problems line
	problems=$(
		LC_ALL=C awk '
			function header() {
				# A section starts after a blank line and is followed by
				# a "X:<tab>" line; the file proper starts at 3C59X.
				return pprev == "" && prev != "" && $0 ~ /^[A-Z]:\t/
			}
			FNR == 1 { file++; started = 0; pprev = prev = "" }
			{
				if (prev == "3C59X NETWORK DRIVER") started = 1
				if (started && header()) {
					if (file == 1) base[prev] = 1
					else names[++n] = prev
				}
				pprev = prev; prev = $0
			}
			# Compare a new section with the next sections up to and
			# including the nearest pristine one, in direction d.
			function check(i, d,   j) {
				for (j = i + d; j >= 1 && j <= n; j += d) {
					if (d < 0 && toupper(names[j]) > toupper(names[i]))
						print "\"" names[i] "\" comes after \"" names[j] "\""
					if (d > 0 && toupper(names[i]) > toupper(names[j]))
						print "\"" names[i] "\" comes before \"" names[j] "\""
					if (names[j] in base) break
				}
			}
			END {
				for (i = 1; i <= n; i++) {
					if (names[i] in base) continue
					check(i, -1)
					check(i, 1)
				}
			}' <(bgit show "$BASE_BRANCH:MAINTAINERS") "$work/MAINTAINERS"
	)
	if [ -z "$problems" ]; then
		MAINT_ORDER=ok
		return 0
	fi
	MAINT_ORDER=FAILED
	while IFS= read -r line; do
		echo "ferrite: series: MAINTAINERS section out of order: $line" >&2
	done <<<"$problems"
	return 1
}

# The build directory and its configuration follow build-kernel.sh: same
# make variables (kmake), tinyconfig + kvm_guest.config + ferrite.config.
build_patches() {
	local i src bdir okfile tree stamp blog warnings
	src=$kver/series-build-src
	bdir=$kver/series-build-$(build_key)
	okfile=$bdir/.ferrite-series-built
	ensure_worktree "$src"
	mkdir -p "$bdir" "$logs_dir"
	# kmake with the series' source and build directories.
	smake() (
		KTREE() { echo "$src"; }
		KBUILD() { echo "$bdir"; }
		kmake "$@"
	)
	for ((i = 1; i <= npatch; i++)); do
		blog=$logs_dir/build-$(printf '%04d' "$i").log
		tree=$(bgit rev-parse "${COMMITS[i]}^{tree}")
		if grep -qsxF "$tree" "$okfile"; then
			log "patch $i/$npatch: built before (tree ${tree:0:12})"
			P_BUILD[i]="ok (built before)"
			continue
		fi
		log "patch $i/$npatch: building ${P_SUBJECT[i]}"
		# One patch at a time, so other work trees' builds get turns.
		take_build_lock
		sgit -C "$src" checkout -q -f --detach "${COMMITS[i]}"
		sgit -C "$src" clean -q -ffdx -e /kernel/configs/ferrite.config \
			-e /kernel/configs/ferrite-modules.config
		# The test configuration is not part of the series: lay it in.
		mkdir -p "$src/kernel/configs"
		for frag in ferrite.config ferrite-modules.config; do
			cmp -s "$FERRITE_ROOT/kernel/configs/$frag" "$src/kernel/configs/$frag" ||
				cp "$FERRITE_ROOT/kernel/configs/$frag" "$src/kernel/configs/$frag"
		done
		stamp=$(
			{
				cat "$src/kernel/configs/ferrite.config" "$src/kernel/configs/ferrite-modules.config"
				sgit -C "$src" ls-tree -r HEAD | awk '$4 ~ /(^|\/)Kconfig/'
			} | sha256sum | cut -c1-16
		)
		: >"$blog"
		if [ ! -f "$bdir/.config" ] || [ "$(cat "$bdir/.ferrite-config" 2>/dev/null)" != "$stamp" ]; then
			log "patch $i/$npatch: configuring (tinyconfig + kvm_guest.config + ferrite*.config)"
			if ! { smake -s tinyconfig &&
				smake -s kvm_guest.config ferrite.config ferrite-modules.config; } >>"$blog" 2>&1; then
				tail -n 40 "$blog" >&2
				die "patch $i: configuration failed, see $blog"
			fi
			echo "$stamp" >"$bdir/.ferrite-config"
		fi
		if ! smake bzImage modules >>"$blog" 2>&1; then
			tail -n 60 "$blog" >&2
			P_BUILD[i]=FAILED
			die "patch $i (${P_SUBJECT[i]}) does not build, see $blog"
		fi
		warnings=$(grep -c -E '(^|[[:space:]])warning:' "$blog" || true)
		if [ "$warnings" -gt 0 ]; then
			P_BUILD[i]="ok, $warnings warning lines (see ${blog##*/})"
			grep -E '(^|[[:space:]])warning:' "$blog" | head -n 20 >&2
		else
			P_BUILD[i]=ok
		fi
		echo "$tree" >>"$okfile"
		flock -u 9
	done
}

summary() {
	local i type reason t
	echo
	echo "ferrite: series of $npatch patches in $out_dir"
	echo "  base: $(bgit log -1 --format='%h %s' "$BASE_BRANCH") ($(kernel_pkg_version))"
	for ((i = 1; i <= npatch; i++)); do
		printf '  %s\n' "${P_FILE[i]##*/}"
		printf '      checkpatch: %s\n' "${P_CHECKPATCH[i]:-not run}"
		[ $do_build = 0 ] || printf '      build:      %s\n' "${P_BUILD[i]:-not run}"
		while read -r type reason; do
			[ -z "$type" ] || printf '      allowed %s: %s\n' "$type" "$reason"
		done <<<"${P_ALLOW[i]}"
	done
	echo "  MAINTAINERS sections in order: $MAINT_ORDER"
	if [ ${#EXCL_ITEM[@]} -gt 0 ]; then
		echo "  not in the series:"
		for ((i = 0; i < ${#EXCL_ITEM[@]}; i++)); do
			printf '      %s: %s\n' "${EXCL_ITEM[i]}" "${EXCL_REASON[i]}"
		done
	fi
	for t in "${STALE_ALLOW[@]}"; do
		echo "  note: $t"
	done
	[ $do_build = 1 ] || echo "  per-patch build: skipped (--no-build)"
	echo "  checkpatch reports: $logs_dir"
}

ensure_base
make_commits
write_patches
failed=
run_checkpatch || failed+=" checkpatch.pl"
check_maintainers_order || failed+=" MAINTAINERS"
if [ -n "$failed" ]; then
	summary
	die "the series fails its checks:$failed (see above)"
fi
[ $do_build = 0 ] || build_patches
summary
