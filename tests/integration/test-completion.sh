# Bash completion (contrib/completion/cvol.bash) for cvol and cvol-mount: what TAB offers,
# in a bash child with bash-completion loaded, as readline would call it.

COMPLETION_FILE="$TOP/contrib/completion/cvol.bash"
BASH_COMPLETION=/usr/share/bash-completion/bash_completion

completion_require() {
	[ -r "$BASH_COMPLETION" ] || skip "bash-completion is not installed (make deps)"
}

# What TAB offers at the end of LINE, one candidate a line (its stderr is the child's), as
# readline calls the function `complete -p` names for the line's command: COMP_WORDS split at
# blanks and at = and : (in COMP_WORDBREAKS), COMP_CWORD the last word, COMP_POINT the end.
# The cvol binaries are the build's, first in PATH. FILE: the completion file sourced.
complete_line() { # line [file]
	PATH="$CVOL_BIN_DIR:$PATH" bash --norc --noprofile -c '
		line=$1
		. "$2" || exit 1
		. "$3" || exit 1
		COMP_WORDS=()
		read -ra toks <<<"$line"
		for tok in "${toks[@]}"; do
			while [[ $tok =~ ^([^=:]*)([=:]+)(.*)$ ]]; do
				[[ -n ${BASH_REMATCH[1]} ]] && COMP_WORDS+=("${BASH_REMATCH[1]}")
				COMP_WORDS+=("${BASH_REMATCH[2]}")
				tok=${BASH_REMATCH[3]}
			done
			[[ -n $tok ]] && COMP_WORDS+=("$tok")
		done
		[[ $line == *[[:blank:]] ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$line
		COMP_POINT=${#line}
		spec=$(complete -p "${COMP_WORDS[0]##*/}") || exit 1
		fn=${spec#*-F }
		fn=${fn%% *}
		"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		[[ ${#COMPREPLY[@]} -eq 0 ]] || printf "%s\n" "${COMPREPLY[@]}"
	' complete_line "$1" "$BASH_COMPLETION" "${2:-$COMPLETION_FILE}"
}

# The candidates on one line, in the order offered; stderr must stay empty.
complete_words() { # line
	local words
	words=$(complete_line "$1" 2>"$WORK/.complete-err") || fail "completing '$1' failed: $(cat "$WORK/.complete-err")"
	[ ! -s "$WORK/.complete-err" ] || fail "completing '$1' wrote to stderr: $(cat "$WORK/.complete-err")"
	printf '%s\n' "$words" | paste -sd ' ' -
}

# A store with three layers (base <- mid <- top) and two volumes.
completion_store() {
	local s="$WORK/store"
	"$CVOL" --root "$s" layer create base >/dev/null
	"$CVOL" --root "$s" layer create --parent base mid >/dev/null
	"$CVOL" --root "$s" layer create --parent mid top >/dev/null
	"$CVOL" --root "$s" volume create data >/dev/null
	"$CVOL" --root "$s" volume create db >/dev/null
	printf '%s\n' "$s"
}

# The long options a --help lists, sorted, on one line.
help_long_options() { # command...
	"$@" --help | grep -oE '^ +(-[a-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+' | sort | paste -sd ' ' -
}

test_completion_commands() {
	completion_require
	assert_eq "info layer image volume" "$(complete_words "cvol ")" "cvol <TAB>"
	assert_eq "info image" "$(complete_words "cvol i")" "cvol i<TAB>"
	assert_eq "--root --json --help --version" "$(complete_words "cvol --")" "cvol --<TAB>"
	assert_eq "$(help_long_options "$CVOL")" "$(complete_words "cvol --" | tr ' ' '\n' | sort | paste -sd ' ' -)" \
		"cvol --<TAB> against cvol --help"
	assert_eq "info layer image volume" "$(complete_words "cvol --root /x --json ")" "the commands after global options"
	assert_eq "create import export diff mount umount rm ls" "$(complete_words "cvol layer ")" "cvol layer <TAB>"
	assert_eq "create ls inspect rm mount umount" "$(complete_words "cvol volume ")" "cvol volume <TAB>"
	assert_eq "import" "$(complete_words "cvol image ")" "cvol image <TAB>"
	assert_eq "--help --parent --userxattr" "$(complete_words "cvol layer import --")" "cvol layer import --<TAB>"
	assert_eq "--help --force" "$(complete_words "cvol layer umount --")" "cvol layer umount --<TAB>"
	assert_eq "--json --help" "$(complete_words "cvol info --")" "cvol info --<TAB>"
	assert_eq "size=" "$(complete_words "cvol volume create -o si")" "cvol volume create -o si<TAB>"
	assert_eq "true false" "$(complete_words "cvol volume create -o ro=")" "cvol volume create -o ro=<TAB>"
	# A path where a path is expected.
	mkdir -p "$WORK/dirs/alpha" "$WORK/dirs/beta"
	touch "$WORK/dirs/image.tar"
	assert_eq "$WORK/dirs/alpha" "$(complete_words "cvol --root $WORK/dirs/a")" "cvol --root DIR<TAB>"
	assert_eq "$WORK/dirs/alpha" "$(complete_words "cvol --root=$WORK/dirs/a")" "cvol --root=DIR<TAB>"
	assert_eq "$WORK/dirs/image.tar" "$(complete_words "cvol image import $WORK/dirs/i")" "cvol image import FILE<TAB>"
}

test_completion_layer_ids() {
	completion_require
	local s
	s=$(completion_store)
	assert_eq "base mid top" "$(complete_words "cvol --root $s layer mount ")" "layer mount <TAB>"
	assert_eq "mid" "$(complete_words "cvol --root $s layer rm m")" "layer rm m<TAB>"
	assert_eq "base" "$(complete_words "cvol --root=$s layer export b")" "layer export b<TAB> with --root="
	assert_eq "base mid top" "$(complete_words "cvol --root $s layer create --parent ")" "layer create --parent <TAB>"
	assert_eq "top" "$(complete_words "cvol --root $s layer diff t")" "layer diff t<TAB>"
	# One id an operand: nothing after it; a new layer's id is the user's to choose.
	assert_eq "" "$(complete_words "cvol --root $s layer umount top ")" "layer umount ID <TAB>"
	assert_eq "" "$(complete_words "cvol --root $s layer create ")" "layer create <TAB>"
	# $CVOL_ROOT, and --root before it.
	assert_eq "base mid top" "$(CVOL_ROOT=$s complete_words "cvol layer umount ")" "layer umount <TAB> with CVOL_ROOT"
	assert_eq "" "$(CVOL_ROOT=$s complete_words "cvol --root $WORK/other layer umount ")" \
		"--root on the line wins over CVOL_ROOT"
	# A layer added is offered at the next TAB.
	"$CVOL" --root "$s" layer create --parent top top2 >/dev/null
	assert_eq "top top2" "$(complete_words "cvol --root $s layer mount t")" "layer mount t<TAB> after a create"
}

test_completion_volume_names() {
	completion_require
	local s
	s=$(completion_store)
	assert_eq "data db" "$(complete_words "cvol --root $s volume rm ")" "volume rm <TAB>"
	assert_eq "db" "$(complete_words "cvol --root $s volume inspect db")" "volume inspect db<TAB>"
	assert_eq "data db" "$(CVOL_ROOT=$s complete_words "cvol volume mount ")" "volume mount <TAB> with CVOL_ROOT"
	assert_eq "" "$(complete_words "cvol --root $s volume create ")" "volume create <TAB>"
	assert_eq "" "$(complete_words "cvol --root $s volume mount data ")" "volume mount NAME <TAB> (a mount ID)"
}

test_completion_missing_store() {
	completion_require
	local none="$WORK/none" out
	out=$(complete_line "cvol --root $none layer mount " 2>&1)
	assert_eq "" "$out" "layer mount <TAB> on a missing store (stdout and stderr)"
	out=$(complete_line "cvol --root $none volume rm " 2>&1)
	assert_eq "" "$out" "volume rm <TAB> on a missing store (stdout and stderr)"
	out=$(complete_line "cvol-mount --root $none --layers " 2>&1)
	assert_eq "" "$out" "cvol-mount --layers <TAB> on a missing store (stdout and stderr)"
	out=$(CVOL_ROOT=$none complete_line "cvol layer rm " 2>&1)
	assert_eq "" "$out" "layer rm <TAB> with a missing CVOL_ROOT (stdout and stderr)"
	assert_missing "$none"
	# Stores cvol cannot open: the layer dir a file; its l/ a file (cvol layer ls fails).
	mkdir -p "$WORK/bad1" "$WORK/bad2/overlay"
	touch "$WORK/bad1/overlay" "$WORK/bad2/overlay/l"
	expect_failure "$CVOL" --root "$WORK/bad2" layer ls
	out=$(complete_line "cvol --root $WORK/bad1 layer rm " 2>&1)
	assert_eq "" "$out" "layer rm <TAB> on a store whose overlay/ is a file (stdout and stderr)"
	out=$(complete_line "cvol --root $WORK/bad2 layer rm " 2>&1)
	assert_eq "" "$out" "layer rm <TAB> on a store cvol cannot open (stdout and stderr)"
}

test_completion_cvol_mount() {
	completion_require
	local s opts
	s=$(completion_store)
	assert_eq "$(help_long_options "$CVOL_MOUNT")" \
		"$(complete_words "cvol-mount --" | tr ' ' '\n' | sort | paste -sd ' ' -)" "cvol-mount --<TAB> against --help"
	assert_eq "base mid top" "$(complete_words "cvol-mount --root $s --layers ")" "--layers <TAB>"
	assert_eq "mid" "$(complete_words "cvol-mount --root=$s --layers m")" "--layers m<TAB> with --root="
	assert_eq "base mid top" "$(CVOL_ROOT=$s complete_words "cvol-mount --upper /u --layers ")" "--layers <TAB> with CVOL_ROOT"

	# -o: overlay options as --help lists them, after the last comma, values after =.
	opts=$("$CVOL_MOUNT" --help | sed -n '/^  -o, --options/,/^  -r/p' | sed '$d' |
		sed 's/.*extra overlay options://' | tr ',' '\n' | sed 's/^ *//; s/ *$//; s/=.*/=/' | grep . | paste -sd ' ' -)
	assert_eq "$opts" "$(complete_words "cvol-mount -o ")" "-o <TAB> against --help"
	assert_eq "volatile,index=" "$(complete_words "cvol-mount -o volatile,ind")" "-o volatile,ind<TAB>"
	assert_eq "volatile,userxattr" "$(complete_words "cvol-mount --options volatile,us")" "--options volatile,us<TAB>"
	# Readline replaces what follows the last = (a word break): the values alone.
	assert_eq "on off" "$(complete_words "cvol-mount -o volatile,index=")" "-o volatile,index=<TAB>"
	assert_eq "on,userxattr on,metacopy= on,redirect_dir= on,xino= on,nfs_export= on,uuid= on,verity=" \
		"$(complete_words "cvol-mount -o volatile,index=on,")" "-o volatile,index=on,<TAB> (given ones left out)"
	assert_eq "follow" "$(complete_words "cvol-mount -o redirect_dir=fo")" "-o redirect_dir=fo<TAB>"
	# Each option's values, as --help lists them (key=a|b).
	local kv
	for kv in $("$CVOL_MOUNT" --help | grep -oE '[a-z_]+=[a-z|]+'); do
		assert_eq "${kv#*=}" "$(complete_words "cvol-mount -o ${kv%%=*}=" | tr ' ' '|')" "-o ${kv%%=*}=<TAB> against --help"
	done
	[ -n "${kv:-}" ] || fail "no KEY=VALUES found in cvol-mount --help"

	# --lower: directories after the last colon (readline replaces only that part).
	mkdir -p "$WORK/l/one" "$WORK/l/two" "$WORK/l/three"
	touch "$WORK/l/tfile"
	assert_eq "$WORK/l/three $WORK/l/two" "$(complete_words "cvol-mount --lower $WORK/l/t" | tr ' ' '\n' | sort | paste -sd ' ' -)" \
		"--lower DIR<TAB>"
	assert_eq "$WORK/l/one" "$(complete_words "cvol-mount --lower $WORK/l/two:$WORK/l/o")" "--lower A:B<TAB>"
	assert_eq "$WORK/l/one" "$(complete_words "cvol-mount --lower=$WORK/l/two:$WORK/l/three:$WORK/l/o")" "--lower=A:B:C<TAB>"
	for o in --upper --work --check --umount; do
		assert_eq "$WORK/l/three $WORK/l/two" "$(complete_words "cvol-mount $o $WORK/l/t" | tr ' ' '\n' | sort | paste -sd ' ' -)" \
			"$o DIR<TAB>"
	done
	# --seccomp: a file, or unconfined.
	touch "$WORK/l/profile.json"
	assert_eq "$WORK/l/profile.json" "$(complete_words "cvol-mount --seccomp $WORK/l/p")" "--seccomp FILE<TAB>"
	assert_eq "unconfined" "$(complete_words "cvol-mount --seccomp unc")" "--seccomp unc<TAB>"
}

# make install puts the completion where bash-completion's loader looks for `cvol` and
# `cvol-mount`, and the loaded file completes.
test_completion_installed() {
	completion_require
	local root="$WORK/root" dir out
	dir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null || true)
	[ -n "$dir" ] || dir=/usr/share/bash-completion/completions
	install_make install DESTDIR="$root" PREFIX=/usr >/dev/null # test-install.sh's
	[ -f "$root$dir/cvol" ] || fail "no $dir/cvol after make install"
	[ -f "$root$dir/cvol-mount" ] || fail "no $dir/cvol-mount after make install"
	# bash-completion's own loader, with the DESTDIR tree as the data dir.
	out=$(XDG_DATA_DIRS="$root${dir%/bash-completion/completions}" BASH_COMPLETION_USER_DIR=/nonexistent \
		bash --norc --noprofile -c '. "$1"; for c in cvol cvol-mount; do
			__load_completion $c || echo "not loaded: $c"; complete -p $c; done' _ "$BASH_COMPLETION" 2>&1)
	assert_eq "complete -F _cvol cvol
complete -F _cvol_mount cvol-mount" "$out" "bash-completion loading the installed files"
	assert_eq "info layer image volume" "$(complete_words_file "cvol " "$root$dir/cvol-mount")" \
		"cvol <TAB> from the installed cvol-mount file"
	install_make uninstall DESTDIR="$root" PREFIX=/usr >/dev/null
	assert_missing "$root$dir/cvol"
	assert_missing "$root$dir/cvol-mount"
	# BASHCOMPLETIONDIR puts them elsewhere, and only them.
	install_make install-completion DESTDIR="$WORK/other" BASHCOMPLETIONDIR=/etc/bash_completion.d >/dev/null
	assert_eq "/etc/bash_completion.d/cvol
/etc/bash_completion.d/cvol-mount" "$(install_files "$WORK/other")" "make install-completion BASHCOMPLETIONDIR=..."
	cmp -s "$COMPLETION_FILE" "$WORK/other/etc/bash_completion.d/cvol-mount" || fail "the installed cvol-mount is not cvol.bash"
	install_make uninstall-completion DESTDIR="$WORK/other" BASHCOMPLETIONDIR=/etc/bash_completion.d >/dev/null
	assert_eq "" "$(install_files "$WORK/other")" "files left after make uninstall-completion"
}

complete_words_file() { # line file
	complete_line "$1" "$2" | paste -sd ' ' -
}
