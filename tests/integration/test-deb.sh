# make deb: the Debian package, built once (a minute or two) by test_deb_package, which then
# checks it as apt and an operator would see it: its files, its dependencies, its units, its
# maintainer scripts, lintian. The build runs in the test's scratch dir (BUILD, DEBDIR), so it
# does not race with the tree's own build/ or leave a .deb at the top of the tree.

# The Makefile's VERSION: the package's.
deb_version() {
	sed -n 's/^VERSION := //p' "$TOP/Makefile"
}

# Every path in the package, without the leading '.', sorted.
deb_files() { # deb
	dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|' | sort
}

deb_assert_has() { # list path what
	grep -qxF -- "$2" <<<"$1" || fail "$3: $2 is not in the package"
}

# A package in Depends:, whatever its version constraint or alternatives.
deb_assert_depends() { # depends package
	tr ',|' '\n\n' <<<"$1" | sed 's/^ *//; s/ .*//' | grep -qxF -- "$2" ||
		fail "Depends does not name $2: $1"
}

# The files, dependencies, units and man pages.
deb_check_contents() { # deb
	local deb=$1 files depends u d page
	files=$(deb_files "$deb")
	deb_assert_has "$files" /usr/bin/cvol "the user's commands"
	deb_assert_has "$files" /usr/bin/cvol-mount "the user's commands"
	deb_assert_has "$files" /usr/sbin/cvol-plugin "the daemons"
	deb_assert_has "$files" /usr/sbin/cvol-snapshotter "the daemons"
	d=/lib/systemd/system
	grep -qxF "$d/cvol-plugin.service" <<<"$files" || d=/usr/lib/systemd/system
	for u in cvol-plugin.service cvol-plugin.socket cvol-snapshotter.service cvol-snapshotter.socket; do
		deb_assert_has "$files" "$d/$u" "the units"
	done
	deb_assert_has "$files" /usr/share/doc/cvol/copyright "the copyright file"
	deb_assert_has "$files" /usr/share/doc/cvol/README.Debian "what the package does and does not do"
	# Once the tree has man pages, the package has them, compressed.
	if [ -d "$TOP/man" ]; then
		for page in cvol cvol-mount cvol-plugin cvol-snapshotter; do
			deb_assert_has "$files" "/usr/share/man/man8/$page.8.gz" "the man pages"
		done
	fi
	# The store is data, not the package's: nothing of it is shipped (so nothing of it is
	# removed with the package).
	! grep -n '^/var/lib/cvol' <<<"$files" || fail "the package ships files in the store"

	assert_eq "$(deb_version)" "$(dpkg-deb -f "$deb" Version)" "the package's version (the Makefile's VERSION)"
	depends=$(dpkg-deb -f "$deb" Depends)
	deb_assert_depends "$depends" libmount1
	deb_assert_depends "$depends" libjansson4
	deb_assert_depends "$depends" e2fsprogs

	# The installed units start the installed daemons.
	mkdir "$WORK/x"
	dpkg-deb -x "$deb" "$WORK/x"
	assert_eq "ExecStart=/usr/sbin/cvol-plugin --root /var/lib/cvol" \
		"$(grep '^ExecStart=' "$WORK/x$d/cvol-plugin.service")" "the packaged plugin unit's ExecStart"
	assert_eq "ExecStart=/usr/sbin/cvol-snapshotter --root /var/lib/cvol" \
		"$(grep '^ExecStart=' "$WORK/x$d/cvol-snapshotter.service")" "the packaged snapshotter unit's ExecStart"
	"$WORK/x/usr/bin/cvol" --version >/dev/null || fail "the packaged cvol --version failed"
}

# Units installed, neither enabled nor started; the store left alone on remove and purge.
deb_check_scripts() { # deb
	local deb=$1 ctl="$WORK/ctl" s
	dpkg-deb -e "$deb" "$ctl"
	for s in preinst postinst prerm postrm; do
		[ -f "$ctl/$s" ] || continue
		# No script names the store: none creates, changes or removes it.
		! grep -n -E '/var/lib/cvol|CVOL_ROOT' "$ctl/$s" || fail "$s touches the store"
		# Nothing started or restarted unasked (try-restart touches only a running unit).
		! grep -n -E '(deb-systemd-invoke|systemctl)([[:space:]].*)?[[:space:]](start|restart|reload-or-restart|enable|reenable|preset)([[:space:]]|$)' \
			"$ctl/$s" || fail "$s starts or enables a unit"
		# dh's enable runs only for a unit the operator had enabled (was-enabled, the line before,
		# comments aside).
		awk -v s="$s" '/deb-systemd-helper( --quiet)? enable / && prev !~ /was-enabled/ {
				print s ": " FNR ": " $0; bad = 1 }
			NF && $1 !~ /^#/ { prev = $0 } END { exit bad }' "$ctl/$s" ||
			fail "$s enables a unit the operator did not"
	done
	# An upgrade does not stop a running unit (--no-start alone would, and never start it again).
	! grep -n 'deb-systemd-invoke stop' "$ctl/preinst" 2>/dev/null || fail "preinst stops units on upgrade"
	# A daemon an operator runs is stopped when its binary goes.
	grep -q 'deb-systemd-invoke stop cvol-plugin.socket cvol-plugin.service' "$ctl/prerm" ||
		fail "prerm does not stop the units on remove"
}

test_deb_package() {
	command -v dpkg-buildpackage >/dev/null || skip "no dpkg-buildpackage (dpkg-dev)"
	command -v lintian >/dev/null || skip "no lintian"
	local unmet deb lint errors rc
	unmet=$(cd "$TOP" && dpkg-checkbuilddeps 2>&1) || skip "build dependencies missing: ${unmet##*: }"

	make -C "$TOP" --no-print-directory deb BUILD="$WORK/build" DEBDIR="$WORK" >"$WORK/deb.log" 2>&1 ||
		fail "make deb failed: $(tail -n 5 "$WORK/deb.log")"
	deb=$(echo "$WORK"/cvol_"$(deb_version)"_*.deb)
	[ -f "$deb" ] || fail "make deb left no cvol_$(deb_version)_*.deb in DEBDIR: $(ls "$WORK")"
	# The rest of the build stays in BUILD.
	ls "$WORK"/build/deb/cvol_"$(deb_version)"_*.changes "$WORK"/build/deb/cvol_"$(deb_version)"_*.buildinfo \
		>/dev/null || fail "no .changes and .buildinfo in BUILD/deb"

	deb_check_contents "$deb"
	deb_check_scripts "$deb"

	# lintian exits non-zero on an error tag, and on a package it could not read (no tags then).
	set +e
	lint=$(lintian "$deb" 2>&1)
	rc=$?
	set -e
	errors=$(grep '^E:' <<<"$lint" || true)
	assert_eq "" "$errors" "lintian's errors"
	[ "$rc" -eq 0 ] || fail "lintian exited $rc: $lint"
	! grep '^W:' <<<"$lint" || true # the warnings, in the test's log
}

# Without dpkg-dev, make deb says what to install, in one line, and builds nothing.
test_deb_without_dpkg_dev() {
	local out rc lines
	mkdir "$WORK/empty"
	set +e
	out=$(PATH="$WORK/empty" "$(command -v make)" -C "$TOP" --no-print-directory -s deb BUILD="$WORK/build" \
		DEBDIR="$WORK" 2>&1)
	rc=$?
	set -e
	[ "$rc" -ne 0 ] || fail "make deb without dpkg-buildpackage exited 0: $out"
	lines=$(grep -Ev '^make(\[[0-9]+\])?: \*\*\*' <<<"$out") # make[N]: under a parent make
	assert_one_line "$lines" "make deb without dpkg-buildpackage"
	assert_contains "$lines" "dpkg-buildpackage not found" "make deb without dpkg-buildpackage"
	assert_missing "$WORK/build/deb"
}
