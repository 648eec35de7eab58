#!/bin/bash
# Lays out a managed (v2) Docker plugin from built binaries, offline and without a base image:
#
#   contrib/plugin/make-rootfs.sh BINDIR DEST
#
# DEST/config.json is contrib/plugin/config.json; DEST/rootfs/ holds cvol-plugin (/usr/sbin),
# mke2fs with mkfs.ext4 linked to it, mkfs.xfs, every shared library `ldd` names for them (the
# real file under the path ldd gives) with the dynamic loader, /etc/mke2fs.conf (mke2fs takes
# ext4's features from it), an /etc/mtab link, and the dirs the plugin mounts on or writes to.
# No `cvol`: the store is a host directory, and the host's `cvol --root STORE` reads it (its
# libraries would triple the size).
# `docker plugin create NAME DEST` takes the result. DEST is made in DEST.tmp and renamed into
# place, so a reader sees the old plugin or the new one, never half of one.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 BINDIR DEST" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
bindir=$1 dest=${2%/}
tmp=$dest.tmp
root=$tmp/rootfs

die() {
	echo "make-rootfs: $*" >&2
	exit 1
}

# The tool's real path: mkfs.ext4 from PATH or the sbin dirs (not in a user's PATH on Debian).
tool() { # name
	local p
	p=$(PATH=$PATH:/usr/sbin:/sbin command -v "$1") || die "$1 not found (make deps: e2fsprogs, xfsprogs)"
	printf '%s\n' "$p"
}

# Copy FILE's real content to PATH inside the rootfs.
put() { # file path mode
	install -D -m "$3" "$(readlink -f "$1")" "$root$2"
}

# Every library ldd names for BIN, and the loader, at the paths ldd gives.
put_libs() { # bin
	local line lib
	ldd "$1" >/dev/null 2>&1 || return 0 # static: nothing to copy
	while read -r line; do
		case $line in
		*"=> not found"*) die "$1: a library is missing: $line" ;;
		*"=> /"*) lib=${line#*=> } lib=${lib%% (*} ;;
		/*) lib=${line%% (*} ;; # the loader: the kernel wants it executable
		*) continue ;;          # linux-vdso.so.1
		esac
		[[ -e $root$lib ]] || put "$lib" "$lib" 0755
	done < <(ldd "$1")
}

[[ -x $bindir/cvol-plugin ]] || die "$bindir/cvol-plugin not found: run make first"
mke2fs=$(tool mke2fs)
mkfs_xfs=$(tool mkfs.xfs)

rm -rf -- "$tmp"
mkdir -p "$root"
put "$bindir/cvol-plugin" /usr/sbin/cvol-plugin 0755
put "$mke2fs" /usr/sbin/mke2fs 0755
ln -s mke2fs "$root/usr/sbin/mkfs.ext4" # mke2fs takes the fs type from its name
put "$mkfs_xfs" /usr/sbin/mkfs.xfs 0755
for b in "$bindir/cvol-plugin" "$mke2fs" "$mkfs_xfs"; do
	put_libs "$b"
done
[[ -e /etc/mke2fs.conf ]] && put /etc/mke2fs.conf /etc/mke2fs.conf 0644
ln -s /proc/self/mounts "$root/etc/mtab"
for d in run/docker/plugins run/cvol run/mount var/lib/cvol mnt/volumes host proc sys dev tmp; do
	mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp"
install -m 0644 "$here/config.json" "$tmp/config.json"

rm -rf -- "$dest"
mv -- "$tmp" "$dest"
