# The man pages (man/): each renders without a warning from groff, says what --help says
# (the same long options, and for cvol the same commands), carries the version the binaries
# print, and `make install` puts them where man finds them. None of this needs root.

MAN_DIR="$TOP/man"
MAN_BINS="cvol cvol-mount cvol-plugin cvol-snapshotter"

require_man() {
	command -v man >/dev/null || skip "no man (apt-get install man-db)"
	command -v groff >/dev/null || skip "no groff (apt-get install groff-base)"
}

# What groff says about a page, with man's default warnings (as lintian runs it) and with all of
# them (a bad escape, a line that cannot be broken); prints nothing for a clean page.
man_warnings() { # file
	local w
	for w in --warnings --warnings=all; do
		# shellcheck disable=SC2069 # groff's stderr is the output; the page itself goes
		MANWIDTH=80 LC_ALL=C.UTF-8 man "$w" -l "$1" 2>&1 >/dev/null
	done
}

# The long options a --help text names, one a line, sorted. For a cvol command, the global
# part of its usage line (`Usage: cvol [--root DIR] `) is left out: it is the page's OPTIONS.
help_options() { # help text
	printf '%s\n' "$1" | sed '1s/^Usage: cvol \[--root DIR\] //' | grep -o -- '--[a-z][a-z-]*' | sort -u || true
}

# The tag lines (the line after each .TP) of a page's section, or of one .SS subsection in it,
# with roff's \- and font escapes undone.
man_tags() { # file section [subsection]
	awk -v sec="$2" -v subsec="${3:-}" '
		/^\.SH / { s = $0; sub(/^\.SH +/, "", s); gsub(/"/, "", s); insec = (s == sec); insub = (subsec == ""); tag = 0; next }
		/^\.SS / { if (subsec != "") { s = $0; sub(/^\.SS +/, "", s); gsub(/"/, "", s); insub = insec && (s == subsec) } tag = 0; next }
		tag { print; tag = 0; next }
		/^\.TP/ { tag = insec && insub; next }
	' "$1" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\%//g' -e 's/\\&//g'
}

# The long options a page documents in a section (or subsection): those on its tag lines only,
# so an option named in another option's text does not count.
man_options() { # file section [subsection]
	man_tags "$@" | grep -o -- '--[a-z][a-z-]*' | sort -u || true
}

# Compare two sorted lists; on a difference print what each lacks and return 1.
man_compare() { # what help-list page-list
	local only_help only_page
	only_help=$(comm -23 <(printf '%s\n' "$2" | sed '/^$/d') <(printf '%s\n' "$3" | sed '/^$/d') | tr '\n' ' ')
	only_page=$(comm -13 <(printf '%s\n' "$2" | sed '/^$/d') <(printf '%s\n' "$3" | sed '/^$/d') | tr '\n' ' ')
	[ -z "$only_help$only_page" ] && return 0
	printf '%s: in --help but not in the man page: [%s]; in the man page but not in --help: [%s]\n' \
		"$1" "$only_help" "$only_page"
	return 1
}

# A binary's --help against the OPTIONS of its page.
man_check_binary() { # binary page
	local help
	help=$("$CVOL_BIN_DIR/$1" --help) || { echo "$1 --help failed"; return 1; }
	[ -n "$(help_options "$help")" ] || { echo "$1 --help names no option"; return 1; }
	man_compare "$1 OPTIONS" "$(help_options "$help")" "$(man_options "$2" OPTIONS)"
}

# `cvol CMD --help` against the `cvol CMD` subsection of COMMANDS in the page.
man_check_command() { # command page
	local help
	help=$("$CVOL" "$1" --help) || { echo "cvol $1 --help failed"; return 1; }
	case "$help" in
	"Usage: cvol [--root DIR] $1"*) ;;
	*) echo "cvol $1 --help does not start with 'Usage: cvol [--root DIR] $1': $help"; return 1 ;;
	esac
	[ -n "$(man_tags "$2" COMMANDS "cvol $1")" ] || { echo "the page has no 'cvol $1' under COMMANDS"; return 1; }
	man_compare "cvol $1" "$(help_options "$help")" "$(man_options "$2" COMMANDS "cvol $1")" || return 1
	# The commands of the group (create, ls, ...) are all there, and no other.
	case "$1" in
	layer | volume)
		man_compare "cvol $1 commands" \
			"$(printf '%s\n' "$help" | awk '/^  [a-z]/ { print $1 }' | sort -u)" \
			"$(man_tags "$2" COMMANDS "cvol $1" | awk -v c="$1" '$1 == "cvol" && $2 == c { print $3 }' | sort -u)"
		;;
	esac
}

test_man_pages_render() {
	require_man
	local f out n=0
	for f in "$MAN_DIR"/*.8 "$MAN_DIR"/*.5; do
		n=$((n + 1))
		out=$(man_warnings "$f")
		assert_eq "" "$out" "groff's warnings on ${f#"$TOP"/}"
		out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$f")
		assert_contains "$out" "NAME" "${f#"$TOP"/} as rendered"
		assert_contains "$out" "SEE ALSO" "${f#"$TOP"/} as rendered"
		# the NAME line as mandb and lintian read it, for whatis and apropos
		out=$(lexgrog "$f") || fail "lexgrog finds no whatis entry in ${f#"$TOP"/}: $out"
		assert_contains "$out" ": \"$(basename "$f" | sed 's/\.[0-9]$//') - " "lexgrog ${f#"$TOP"/}"
	done
	assert_eq 5 "$n" "the number of pages in man/"
}

# The check above fails on a broken page: an unknown macro, a bad escape.
test_man_warnings_catch_a_broken_page() {
	require_man
	local out
	sed 's/^\.SH DESCRIPTION$/.SH DESCRIPTION\n.XY no such macro/' "$MAN_DIR/cvol-mount.8" >"$WORK/macro.8"
	out=$(man_warnings "$WORK/macro.8")
	assert_contains "$out" "macro 'XY' not defined" "the warnings on a page with an unknown macro"
	sed 's/^mounts an overlay root on$/mounts an \\q overlay root on/' "$MAN_DIR/cvol-mount.8" >"$WORK/escape.8"
	! cmp -s "$MAN_DIR/cvol-mount.8" "$WORK/escape.8" || fail "the bad escape was not put in the copy"
	out=$(man_warnings "$WORK/escape.8")
	assert_contains "$out" "escape character ignored before 'q'" "the warnings on a page with a bad escape"
}

# Every binary has a page named for it, in section 8, of the version it prints.
test_man_page_per_binary() {
	local b page th
	for b in $MAN_BINS; do
		page="$MAN_DIR/$b.8"
		[ -f "$page" ] || fail "no man page for $b: $page"
		th=$(grep '^\.TH ' "$page")
		assert_eq "$(echo "$b" | tr '[:lower:]' '[:upper:]') 8" "$(echo "$th" | awk '{ print $2, $3 }')" "the .TH of $b.8"
		assert_contains "$th" "\"cvol $("$CVOL_BIN_DIR/$b" --version | awk '{ print $2 }')\"" \
			"the .TH of $b.8 (the version $b prints)"
		assert_eq "$b \\- " "$(sed -n '/^\.SH NAME/{n;p}' "$page" | cut -c1-$((${#b} + 4)))" "the NAME line of $b.8"
	done
	assert_contains "$(grep '^\.TH ' "$MAN_DIR/cvol-store.5")" "CVOL-STORE 5 " "the .TH of cvol-store.5"
	assert_contains "$(grep '^\.TH ' "$MAN_DIR/cvol-store.5")" "\"$("$CVOL" --version)\"" "the version of cvol-store.5"
}

test_man_options_match_help() {
	local b out
	for b in $MAN_BINS; do
		out=$(man_check_binary "$b" "$MAN_DIR/$b.8") || fail "$out"
	done
}

test_man_cvol_commands_match_help() {
	local c out
	# The commands `cvol --help` lists are the page's subsections of COMMANDS.
	out=$(man_compare "cvol commands" \
		"$("$CVOL" --help | awk '/^Commands:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }' | sort -u)" \
		"$(sed -n '/^\.SH COMMANDS/,/^\.SH /s/^\.SS "cvol \([a-z]*\)"$/\1/p' "$MAN_DIR/cvol.8" | sort -u)") ||
		fail "$out"
	for c in info layer image volume; do
		out=$(man_check_command "$c" "$MAN_DIR/cvol.8") || fail "$out"
	done
}

# The comparison is honest: a page that lacks an option, lists one --help lacks, or names an
# option only in another's text fails, and so does a command without one of its options.
test_man_compare_catches_a_doctored_page() {
	local page="$MAN_DIR/cvol-mount.8" out
	# --keep's entry gone (its text stays, under --seccomp's)
	awk '{ line[NR] = $0 } END { for (i = 1; i <= NR; i++) {
		if (line[i] == ".TP" && line[i + 1] == ".B \\-\\-keep") { i++; continue }
		print line[i] } }' "$page" >"$WORK/no-keep.8"
	assert_eq 2 "$(diff "$page" "$WORK/no-keep.8" | grep -c '^<')" "lines taken out of the copy without --keep"
	if out=$(man_check_binary cvol-mount "$WORK/no-keep.8"); then
		fail "a page without --keep matched cvol-mount --help"
	fi
	assert_contains "$out" "in --help but not in the man page: [--keep ]" "the difference"
	# --keep named only in another entry's text still lacks its own entry
	sed 's/^Leave$/Leave (see \\-\\-keep)/' "$WORK/no-keep.8" >"$WORK/keep-in-text.8"
	grep -q 'see \\-\\-keep' "$WORK/keep-in-text.8" || fail "the copy does not name --keep in a text"
	if out=$(man_check_binary cvol-mount "$WORK/keep-in-text.8"); then
		fail "a page naming --keep only in a text matched cvol-mount --help"
	fi
	assert_contains "$out" "[--keep ]" "the difference"
	# an option --help does not have
	sed 's/^\.SH ENVIRONMENT$/.TP\n.B \\-\\-bogus\nNo such option.\n.SH ENVIRONMENT/' "$page" >"$WORK/bogus.8"
	if out=$(man_check_binary cvol-mount "$WORK/bogus.8"); then
		fail "a page with --bogus matched cvol-mount --help"
	fi
	assert_contains "$out" "in the man page but not in --help: [--bogus ]" "the difference"
	# a cvol command without one of its options, and a command missing from its group
	sed 's/^\\fBcvol layer umount\\fR \[\\fB\\-\\-force\\fR\] /\\fBcvol layer umount\\fR /' \
		"$MAN_DIR/cvol.8" >"$WORK/no-force.8"
	if out=$(man_check_command layer "$WORK/no-force.8"); then
		fail "a page without layer umount --force matched cvol layer --help"
	fi
	assert_contains "$out" "[--force ]" "the difference"
	sed 's/^\\fBcvol volume inspect\\fR/\\fBcvol volume look\\fR/' "$MAN_DIR/cvol.8" >"$WORK/no-inspect.8"
	if out=$(man_check_command volume "$WORK/no-inspect.8"); then
		fail "a page without volume inspect matched cvol volume --help"
	fi
	assert_contains "$out" "in --help but not in the man page: [inspect ]" "the difference"
}

# make install puts the pages in MANDIR/man8 and man5, 0644, where man -M finds them.
test_man_install() {
	require_man
	local root="$WORK/root" mandir f
	mandir="$root/usr/local/share/man"
	install_make install DESTDIR="$root"
	for f in "$MAN_DIR"/*.8; do
		cmp -s "$f" "$mandir/man8/${f##*/}" || fail "man8/${f##*/} is not man/${f##*/}"
		assert_eq 644 "$(stat -c %a "$mandir/man8/${f##*/}")" "mode of man8/${f##*/}"
	done
	cmp -s "$MAN_DIR/cvol-store.5" "$mandir/man5/cvol-store.5" || fail "man5/cvol-store.5 is not man/cvol-store.5"
	assert_eq "$mandir/man8/cvol-mount.8" "$(man -M "$mandir" -w cvol-mount)" "man -M MANDIR -w cvol-mount"
	assert_eq "$mandir/man5/cvol-store.5" "$(man -M "$mandir" -w 5 cvol-store)" "man -M MANDIR -w 5 cvol-store"
	assert_contains "$(MANWIDTH=80 LC_ALL=C.UTF-8 man -M "$mandir" cvol-mount | cat)" \
		"cvol-mount - mount a checked overlay root" "man -M MANDIR cvol-mount"
}

# make uninstall takes the pages and the dirs they leave empty, never another page or MANDIR.
test_man_uninstall() {
	local root="$WORK/root" mandir
	mandir="$root/usr/local/share/man"
	install_make install DESTDIR="$root"
	echo '.TH OTHER 8' >"$mandir/man8/other.8"
	install_make uninstall DESTDIR="$root"
	assert_eq "/usr/local/share/man/man8/other.8" "$(install_files "$root/" | grep /share/man/)" \
		"the pages left after make uninstall"
	assert_missing "$mandir/man5"
	rm "$mandir/man8/other.8"
	install_make install DESTDIR="$root"
	install_make uninstall DESTDIR="$root"
	assert_missing "$mandir/man8"
	[ -d "$mandir" ] || fail "make uninstall removed MANDIR itself"
}
