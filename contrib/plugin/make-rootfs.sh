#!/bin/bash
# Lays out a managed (v2) Docker plugin from built binaries, offline and without a base image:
#
#   contrib/plugin/make-rootfs.sh BINDIR DEST
#
# DEST/config.json is contrib/plugin/config.json; DEST/rootfs/ holds cvol-plugin (/usr/sbin),
# mke2fs with mkfs.ext4 linked to it, mkfs.xfs, sshfs and ssh (/usr/bin, where cvol-plugin's
# PATH finds them), every shared library `ldd` names for them (the real file under the path ldd
# gives) with the dynamic loader, /etc/mke2fs.conf (mke2fs takes ext4's features from it), an
# /etc/mtab link, what ssh needs to run as root (/etc/passwd and /etc/group with root, HOME
# /root, an /etc/nsswitch.conf, an /etc/ssh/ssh_config that keeps known hosts in the store),
# and the dirs the plugin mounts on or writes to.
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
	p=$(PATH=$PATH:/usr/sbin:/sbin command -v "$1") ||
		die "$1 not found (make deps: e2fsprogs, xfsprogs, sshfs, openssh-client)"
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
sshfs=$(tool sshfs)
ssh=$(tool ssh)

rm -rf -- "$tmp"
mkdir -p "$root"
put "$bindir/cvol-plugin" /usr/sbin/cvol-plugin 0755
put "$mke2fs" /usr/sbin/mke2fs 0755
ln -s mke2fs "$root/usr/sbin/mkfs.ext4" # mke2fs takes the fs type from its name
put "$mkfs_xfs" /usr/sbin/mkfs.xfs 0755
# sshfs volumes: cvol-plugin runs `sshfs` from PATH, which runs `ssh` from PATH
put "$sshfs" /usr/bin/sshfs 0755
put "$ssh" /usr/bin/ssh 0755
for b in "$bindir/cvol-plugin" "$mke2fs" "$mkfs_xfs" "$sshfs" "$ssh"; do
	put_libs "$b"
done
[[ -e /etc/mke2fs.conf ]] && put /etc/mke2fs.conf /etc/mke2fs.conf 0644
ln -s /proc/self/mounts "$root/etc/mtab" # libfuse adds no line to a link to /proc
# ssh wants a name and a home for its uid; `files` and `dns` are in libc itself (glibc 2.34 and
# later): no NSS module to copy. dockerd binds the host's /etc/hosts and /etc/resolv.conf.
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
# /root is the host dir of the mount `home` (its .ssh: keys, config, known_hosts), bound
# read-only (a home dir exists on every host, where a .ssh may not: enable would fail):
# the host keys that StrictHostKeyChecking=accept-new learns go to the store (writable, and it
# outlives the plugin); the bound dir's known_hosts is read too. A volume's UserKnownHostsFile
# wins (ssh takes the first value it reads: the command line's).
mkdir -p "$root/etc/ssh"
cat >"$root/etc/ssh/ssh_config" <<'EOF'
# cvol's managed plugin (make-rootfs.sh): ssh runs here as root, for sshfs volumes.
Host *
	UserKnownHostsFile /var/lib/cvol/known_hosts ~/.ssh/known_hosts
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf" "$root/etc/ssh/ssh_config"
for d in run/docker/plugins run/cvol run/mount var/lib/cvol mnt/volumes host proc sys dev tmp root; do
	mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
install -m 0644 "$here/config.json" "$tmp/config.json"

rm -rf -- "$dest"
mv -- "$tmp" "$dest"
