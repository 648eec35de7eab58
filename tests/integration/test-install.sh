# make install / make uninstall: the layout a package expects, the units' filled-in paths,
# and an uninstall that leaves nothing. make runs from the top of the tree on the binaries the
# tests use ($CVOL_BIN_DIR, make's OUT); a make started by `make integration` or check-asan
# passes its own variables (BUILD, OUT, CFLAGS) down in MAKEFLAGS, so nothing is rebuilt.

install_make() { # make args...
	make -C "$TOP" --no-print-directory OUT="$CVOL_BIN_DIR" "$@"
}

# The unit dir make install picks: systemd.pc's, or PREFIX/lib/systemd/system without it.
install_unitdir() { # prefix
	local d
	d=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
	printf '%s\n' "${d:-$1/lib/systemd/system}"
}

# Every file (and link) under a tree, relative to it, sorted.
install_files() { # root
	(cd "$1" && find . ! -type d | sed 's|^\./|/|' | sort)
}

# bash-completion's completions dir make install picks: bash-completion.pc's, or under PREFIX.
install_completiondir() { # prefix
	local d
	d=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null || true)
	printf '%s\n' "${d:-$1/share/bash-completion/completions}"
}

# What make install puts with PREFIX, the unit dir and the completions dir given, sorted.
install_expected() { # prefix unitdir [completiondir]
	local p=$1 u=$2 c=${3:-$(install_completiondir "$1")} f
	{
		printf '%s\n' "$p/bin/cvol" "$p/bin/cvol-mount" "$p/sbin/cvol-plugin" "$p/sbin/cvol-snapshotter"
		printf '%s\n' "$u/cvol-plugin.service" "$u/cvol-plugin.socket" \
			"$u/cvol-snapshotter.service" "$u/cvol-snapshotter.socket"
		printf '%s\n' "$c/cvol" "$c/cvol-mount"
		printf '%s\n' "$p/share/cvol/containerd/config.toml" "$p/share/cvol/docker/cvol.spec"
		printf '%s\n' "$p/share/doc/cvol/README.md"
		for f in "$TOP"/docs/*.md; do
			printf '%s\n' "$p/share/doc/cvol/docs/${f##*/}"
		done
		printf '%s\n' "$p/share/man/man8/cvol.8" "$p/share/man/man8/cvol-mount.8" \
			"$p/share/man/man8/cvol-plugin.8" "$p/share/man/man8/cvol-snapshotter.8" \
			"$p/share/man/man5/cvol-store.5"
	} | sort
}

# The unit options that set up a mount namespace of their own (systemd.exec(5)).
INSTALL_MOUNT_NS_OPTIONS="ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|PrivateIPC|ProtectKernelTunables"
INSTALL_MOUNT_NS_OPTIONS+="|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectProc|ProcSubset"
INSTALL_MOUNT_NS_OPTIONS+="|ReadWritePaths|ReadOnlyPaths|InaccessiblePaths|ExecPaths|NoExecPaths|BindPaths"
INSTALL_MOUNT_NS_OPTIONS+="|BindReadOnlyPaths|TemporaryFileSystem|RootDirectory|RootImage|MountImages|LogNamespace"

# The binaries' mtimes: make install must not rebuild them.
install_bin_stamps() {
	stat -c '%n %Y' "$CVOL_BIN_DIR"/cvol "$CVOL_BIN_DIR"/cvol-mount "$CVOL_BIN_DIR"/cvol-plugin \
		"$CVOL_BIN_DIR"/cvol-snapshotter
}

test_install_layout() {
	local root="$WORK/root" unitdir before f
	unitdir=$(install_unitdir /usr)
	before=$(install_bin_stamps)
	install_make install DESTDIR="$root" PREFIX=/usr
	assert_eq "$before" "$(install_bin_stamps)" "the build's binaries after make install (rebuilt?)"
	assert_eq "$(install_expected /usr "$unitdir")" "$(install_files "$root")" "the installed files"

	for f in bin/cvol bin/cvol-mount sbin/cvol-plugin sbin/cvol-snapshotter; do
		assert_eq 755 "$(stat -c %a "$root/usr/$f")" "mode of /usr/$f"
		cmp -s "$CVOL_BIN_DIR/${f#*/}" "$root/usr/$f" || fail "/usr/$f is not the build's ${f#*/}"
	done
	while read -r f; do
		case "$f" in
		*/bin/* | */sbin/*) ;;
		*) assert_eq 644 "$(stat -c %a "$root$f")" "mode of $f" ;;
		esac
	done < <(install_files "$root")
	# The installed daemon answers (what it links is there).
	"$root/usr/sbin/cvol-plugin" --help >/dev/null || fail "the installed cvol-plugin --help failed"
}

test_install_units() {
	local root="$WORK/root" unitdir u
	unitdir=$(install_unitdir /usr)
	install_make install DESTDIR="$root" PREFIX=/usr
	u="$root$unitdir"
	assert_eq "ExecStart=/usr/sbin/cvol-snapshotter --root /var/lib/cvol" \
		"$(grep '^ExecStart=' "$u/cvol-snapshotter.service")" "the snapshotter unit's ExecStart"
	assert_eq "ExecStart=/usr/sbin/cvol-plugin --root /var/lib/cvol" \
		"$(grep '^ExecStart=' "$u/cvol-plugin.service")" "the plugin unit's ExecStart"
	! grep -n '@[A-Za-z_]*@' "$u"/cvol-* || fail "an installed unit keeps a placeholder"
	! grep -n '/usr/local' "$u"/cvol-* || fail "an installed unit names /usr/local"
	# Ordered before the daemon each serves, after the store's filesystem.
	assert_eq "Before=docker.service" "$(grep '^Before=' "$u/cvol-plugin.service")" "the plugin unit's Before="
	assert_eq "Before=containerd.service" "$(grep '^Before=' "$u/cvol-snapshotter.service")" \
		"the snapshotter unit's Before="
	for f in cvol-plugin cvol-snapshotter; do
		assert_eq "RequiresMountsFor=/var/lib/cvol" "$(grep '^RequiresMountsFor=' "$u/$f.service")" \
			"$f.service's RequiresMountsFor="
	done
	# No option that gives a unit a mount namespace of its own: the daemons' mounts would not
	# reach dockerd or containerd (systemd.exec(5); MountFlags= other than shared is one too).
	! grep -n -E "^($INSTALL_MOUNT_NS_OPTIONS)=|^MountFlags=(slave|private)" "$u"/cvol-* ||
		fail "an installed unit sets an option that makes a private mount namespace"
	# The sockets are installed as they are in contrib/.
	cmp -s "$TOP/contrib/systemd/cvol-plugin.socket" "$u/cvol-plugin.socket" || fail "cvol-plugin.socket differs"
	cmp -s "$TOP/contrib/systemd/cvol-snapshotter.socket" "$u/cvol-snapshotter.socket" ||
		fail "cvol-snapshotter.socket differs"
}

# systemd-analyze verify without a booted systemd (there is none in this VM: PID 1 is not
# systemd): --root makes it load units from, and check ExecStart= binaries in, the given tree.
# It also needs the units the ours pull in by default (sysinit.target, sockets.target...), so
# the check runs on a copy of the DESTDIR tree with the host's own system units added beside
# ours (cp -n: ours win). A warning (an unknown key, say) exits 0, so its output must be empty.
# verify runs man(1) on the man: pages of Documentation=: MANPATH points it at the installed
# ones once the tree has man/, and until then --man=no.
test_install_units_verify() {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	[ -d /lib/systemd/system ] || skip "no /lib/systemd/system to verify against"
	local root="$WORK/root" vroot="$WORK/verify" unitdir out man
	unitdir=$(install_unitdir /usr)
	install_make install DESTDIR="$root" PREFIX=/usr
	cp -a "$root" "$vroot"
	cp -an /lib/systemd/system/. "$vroot$unitdir/"
	man=(--man=no)
	[ ! -d "$TOP/man" ] || man=(--man=yes)
	out=$(MANPATH="$vroot/usr/share/man" systemd-analyze verify "${man[@]}" --root="$vroot" \
		cvol-plugin.socket cvol-plugin.service cvol-snapshotter.socket cvol-snapshotter.service 2>&1) ||
		fail "systemd-analyze verify: $out"
	assert_eq "" "$out" "systemd-analyze verify's output"
	# It does check: without the installed binary, the unit fails.
	rm "$vroot/usr/sbin/cvol-snapshotter"
	expect_failure systemd-analyze verify --root="$vroot" cvol-snapshotter.service
	assert_contains "$out" "/usr/sbin/cvol-snapshotter" "verify without the binary"
}

test_install_uninstall() {
	local root="$WORK/root"
	install_make install DESTDIR="$root" PREFIX=/usr
	# Something of the host's in the same dirs stays.
	echo keep >"$root/usr/bin/other"
	install_make uninstall DESTDIR="$root" PREFIX=/usr
	assert_eq "/usr/bin/other" "$(install_files "$root")" "the files left after make uninstall"
	# cvol's own dirs go once empty.
	assert_missing "$root/usr/share/cvol"
	assert_missing "$root/usr/share/doc/cvol"
	# A second uninstall has nothing to do and does not fail.
	install_make uninstall DESTDIR="$root" PREFIX=/usr
}

# Without systemd.pc (pkg-config answers nothing), units go under PREFIX; another PREFIX is
# what the units name; SBINDIR alone moves the daemons and the units follow.
test_install_prefix_fallback() {
	local root="$WORK/root"
	install_make install DESTDIR="$root" PREFIX=/opt/cvol PKG_CONFIG=false SBINDIR=/opt/cvol/libexec
	assert_eq "$(install_expected /opt/cvol /opt/cvol/lib/systemd/system /opt/cvol/share/bash-completion/completions | sed 's|/opt/cvol/sbin/|/opt/cvol/libexec/|')" \
		"$(install_files "$root")" "the installed files (PREFIX=/opt/cvol, no systemd.pc)"
	assert_eq "ExecStart=/opt/cvol/libexec/cvol-plugin --root /var/lib/cvol" \
		"$(grep '^ExecStart=' "$root/opt/cvol/lib/systemd/system/cvol-plugin.service")" "the plugin unit's ExecStart"
	install_make uninstall DESTDIR="$root" PREFIX=/opt/cvol PKG_CONFIG=false SBINDIR=/opt/cvol/libexec
	assert_eq "" "$(install_files "$root")" "the files left after make uninstall"
}
