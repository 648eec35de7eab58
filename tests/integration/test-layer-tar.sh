# cvol layer import|export|diff: layer tars in (plain, gzip, zstd, stdin), whiteouts and
# opaque directories in the merged view, metadata, the export round trip, and archives
# that try to write outside the layer.

ltar() { "$CVOL" --root "$WORK/root" "$@"; }

ltar_diff() { printf '%s/root/overlay/%s/diff' "$WORK" "$1"; }

# Every entry under DIR (type, mode, owner, size, link target), then every file's sha256.
ltar_tree() { # dir
	(
		cd "$1" || exit
		find . -printf '%P %y %m %u %g %s %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	)
}

# Write a tar with python's tarfile from statements using the helpers below.
ltar_pytar() { # out.tar statements...
	ltar_need python3
	local out=$1
	shift
	python3 - "$out" <<EOF
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def add(name, type, **kw):
    i = tarfile.TarInfo(name)
    i.type = type
    i.mtime = 1000000000
    for k, v in kw.items():
        setattr(i, k, v)
    return i
def f(name, data=b"evil\n"):
    i = add(name, tarfile.REGTYPE, size=len(data), mode=0o644)
    t.addfile(i, io.BytesIO(data))
def d(name):
    t.addfile(add(name, tarfile.DIRTYPE, mode=0o755))
def sym(name, target):
    t.addfile(add(name, tarfile.SYMTYPE, linkname=target, mode=0o777))
def hard(name, target):
    t.addfile(add(name, tarfile.LNKTYPE, linkname=target, mode=0o644))
$*
t.close()
EOF
}

# "path xattr-name" for every xattr the pax headers of a tar carry.
ltar_pax_xattrs() { # tar
	python3 - "$1" <<'EOF'
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    for k in m.pax_headers:
        for p in ("SCHILY.xattr.", "LIBARCHIVE.xattr."):
            if k.startswith(p):
                print(m.name, k[len(p):])
EOF
}

ltar_need() { # commands...
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c is not installed (make deps)"
	done
}

# ---- a tree outside the store, and the host paths an archive might aim at ----------------

ltar_outside_state() {
	find "$WORK/outside" -printf '%P %y %m %s %T@\n' | LC_ALL=C sort
	find "$WORK/outside" -type f -exec sha256sum {} + | LC_ALL=C sort
}

ltar_host_state() {
	stat -c '%n %Y %s %i' /etc/passwd /etc/shadow
	ls -A /etc | LC_ALL=C sort >"$WORK/etc.now"
}

ltar_sentinel() {
	mkdir -p "$WORK/outside/dir"
	echo keep >"$WORK/outside/file"
	echo keep >"$WORK/outside/dir/inner"
	ln -s file "$WORK/outside/link"
	[ ! -e /etc/x ] || skip "/etc/x exists on this host"
	[ ! -e /abs ] || skip "/abs exists on this host"
	ltar_outside_state >"$WORK/outside.before"
	ltar_host_state >"$WORK/host.before"
	cp "$WORK/etc.now" "$WORK/etc.before"
}

# Nothing outside the layer was written: the sentinel, /etc and /abs are as they were.
ltar_nothing_outside() {
	assert_eq "$(cat "$WORK/outside.before")" "$(ltar_outside_state)" "the tree outside the store"
	assert_eq "$(cat "$WORK/host.before")" "$(ltar_host_state)" "/etc/passwd and /etc/shadow"
	assert_eq "" "$(LC_ALL=C comm -13 "$WORK/etc.before" "$WORK/etc.now")" "new names in /etc"
	assert_missing /etc/x
	assert_missing /abs
}

# An import that must be refused: one line naming the problem and the entry, no layer,
# nothing left in .staging or l/, nothing written outside.
ltar_refused() { # id tar problem entry
	local id=$1 tar=$2 problem=$3 entry=$4
	expect_failure ltar layer import "$id" "$tar"
	assert_one_line "$out" "import of $(basename "$tar")"
	assert_contains "$out" "import layer \`$id\`" "import of $(basename "$tar")"
	assert_contains "$out" "$problem" "import of $(basename "$tar")"
	assert_contains "$out" "$entry" "import of $(basename "$tar")"
	ltar_no_layer "$id"
	ltar_nothing_outside
}

ltar_no_layer() { # id
	assert_eq 1 "$(ltar layer ls | wc -l)" "lines of layer ls after a refused import"
	assert_missing "$WORK/root/overlay/$1"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.staging")" ".staging after a refused import"
	assert_eq "" "$(ls -A "$WORK/root/overlay/l")" "links after a refused import"
}

# ---- formats ----------------------------------------------------------------------------

ltar_make_src() { # dir
	mkdir -p "$1/etc" "$1/usr/bin" "$1/empty"
	echo hello >"$1/etc/hostname"
	printf 'line 1\nline 2\n' >"$1/usr/bin/tool"
	chmod 755 "$1/usr/bin/tool"
	head -c 300000 /dev/urandom >"$1/usr/blob"
	ln -s ../etc/hostname "$1/usr/hostname"
}

test_layer_tar_import_formats() {
	ltar_need zstd gzip
	ltar_make_src "$WORK/src"
	tar -C "$WORK/src" -cf "$WORK/l.tar" .
	gzip -c "$WORK/l.tar" >"$WORK/l.tar.gz"
	zstd -q -c "$WORK/l.tar" >"$WORK/l.tar.zst"
	assert_eq plain "$(ltar layer import plain "$WORK/l.tar")" "import of a .tar prints the id"
	ltar layer import gz "$WORK/l.tar.gz" >/dev/null
	ltar layer import zst "$WORK/l.tar.zst" >/dev/null
	ltar layer import stdin - <"$WORK/l.tar" >/dev/null
	zstd -q -c "$WORK/l.tar" | ltar layer import pipe-zst - >/dev/null
	local want id
	want=$(ltar_tree "$WORK/src")
	for id in plain gz zst stdin pipe-zst; do
		assert_eq "$want" "$(ltar_tree "$(ltar_diff "$id")")" "tree of the layer imported as $id"
	done
	assert_eq 6 "$(ltar layer ls | wc -l)" "lines of layer ls"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.staging")" ".staging after imports"
	local m
	m=$(ltar layer mount zst)
	assert_file_content "$m/etc/hostname" hello
	assert_file_content "$m/usr/hostname" hello
	ltar layer umount zst
}

# ---- two layers: delete, replace a directory, change, add -------------------------------

# base: etc/config, etc/remove-me, data/{old1,shared,sub/x}, keep.
# top: deletes etc/remove-me, replaces data/ (opaque) by data/{new,shared}, changes
# etc/config, adds added.
ltar_two_layers() {
	local b="$WORK/base-src" t="$WORK/top-src"
	mkdir -p "$b/etc" "$b/data/sub" "$t/etc" "$t/data"
	echo v1 >"$b/etc/config"
	echo bye >"$b/etc/remove-me"
	echo old1 >"$b/data/old1"
	echo old-shared >"$b/data/shared"
	echo x >"$b/data/sub/x"
	echo keep >"$b/keep"
	echo v2 >"$t/etc/config"
	: >"$t/etc/.wh.remove-me"
	: >"$t/data/.wh..wh..opq"
	echo new >"$t/data/new"
	echo new-shared >"$t/data/shared"
	echo added >"$t/added"
	tar -C "$b" -cf "$WORK/base.tar" .
	tar -C "$t" -cf "$WORK/top.tar" .
	ltar layer import base "$WORK/base.tar" >/dev/null
	ltar layer import --parent base top "$WORK/top.tar" >/dev/null
}

test_layer_tar_two_layers_merged() {
	ltar_need getfattr
	ltar_two_layers
	local d
	d=$(ltar_diff top)
	[ "$(stat -c '%F %t:%T' "$d/etc/remove-me")" = "character special file 0:0" ] ||
		fail "etc/remove-me in the top diff is not a whiteout: $(stat -c '%F %t:%T' "$d/etc/remove-me")"
	assert_missing "$d/etc/.wh.remove-me"
	assert_missing "$d/data/.wh..wh..opq"
	assert_eq y "$(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$d/data" 2>/dev/null)" "opaque xattr"
	local m
	m=$(ltar layer mount top)
	assert_missing "$m/etc/remove-me"
	assert_eq "config" "$(ls -A "$m/etc")" "etc in the merged view"
	assert_eq "new shared" "$(ls -A "$m/data" | tr '\n' ' ' | sed 's/ $//')" "the replaced data/"
	assert_file_content "$m/data/shared" new-shared
	assert_missing "$m/data/old1"
	assert_missing "$m/data/sub"
	assert_file_content "$m/etc/config" v2
	assert_file_content "$m/added" added
	assert_file_content "$m/keep" keep
	ltar layer umount top
}

test_layer_tar_diff() {
	ltar_two_layers
	assert_eq "A /added
C /data
A /data/new
C /data/shared
C /etc
C /etc/config
D /etc/remove-me" "$(ltar layer diff top)" "layer diff top"
	assert_eq "A /data
A /data/old1
A /data/shared
A /data/sub
A /data/sub/x
A /etc
A /etc/config
A /etc/remove-me
A /keep" "$(ltar layer diff base)" "layer diff base"
	expect_failure ltar layer diff nope
	assert_one_line "$out" "diff of a missing layer"
	assert_contains "$out" "nope" "diff of a missing layer"
}

# A path hidden by a whiteout or an opaque directory in a middle layer and made again on
# top is new to the image below: A, not C.
test_layer_tar_diff_hidden_in_middle() {
	mkdir -p "$WORK/s1/gone" "$WORK/s1/opq" "$WORK/s2/opq" "$WORK/s3/gone" "$WORK/s3/opq"
	echo 1 >"$WORK/s1/gone/f"
	echo 1 >"$WORK/s1/opq/f"
	echo 1 >"$WORK/s1/file"
	: >"$WORK/s2/.wh.gone"
	: >"$WORK/s2/.wh.file"
	: >"$WORK/s2/opq/.wh..wh..opq"
	echo 3 >"$WORK/s3/gone/f"
	echo 3 >"$WORK/s3/opq/f"
	echo 3 >"$WORK/s3/file"
	local i
	for i in 1 2 3; do tar -C "$WORK/s$i" -cf "$WORK/s$i.tar" .; done
	ltar layer import l1 "$WORK/s1.tar" >/dev/null
	ltar layer import --parent l1 l2 "$WORK/s2.tar" >/dev/null
	ltar layer import --parent l2 l3 "$WORK/s3.tar" >/dev/null
	assert_eq "A /file
A /gone
A /gone/f
C /opq
A /opq/f" "$(ltar layer diff l3)" "layer diff l3"
	local m
	m=$(ltar layer mount l3)
	assert_file_content "$m/gone/f" 3
	assert_file_content "$m/opq/f" 3
	ltar layer umount l3
}

# ---- metadata ---------------------------------------------------------------------------

test_layer_tar_metadata() {
	ltar_need setfattr getfattr python3
	local s="$WORK/src"
	mkdir -p "$s/dir" "$s/sgid" "$s/sneaky" "$WORK/owned-src"
	echo content >"$s/file"
	echo suid >"$s/suid"
	chmod 4755 "$s/suid"
	chmod 2775 "$s/sgid"
	chmod 1777 "$s/dir"
	echo mine >"$WORK/owned-src/owned"
	chmod 640 "$WORK/owned-src/owned"
	setfattr -n user.test -v hello "$s/file"
	setfattr -n user.dirattr -v dirvalue "$s/dir"
	setfattr -n trusted.overlay.opaque -v y "$s/sneaky"   # overlay's own: must not come through
	setfattr -n trusted.overlay.redirect -v /etc "$s/sneaky"
	mknod -m 666 "$s/null" c 1 3
	mknod "$s/loop" b 7 200
	mkfifo -m 640 "$s/fifo"
	ln "$s/file" "$s/hardlink"
	echo in-dir >"$s/dir/inner"
	ln -s file "$s/symlink"
	touch -d @1000000000 "$s/file" "$s/null" "$s/fifo" "$WORK/owned-src/owned"
	touch -h -d @1100000000 "$s/symlink"
	touch -d @1200000000 "$s/dir" "$s/sgid"
	tar --xattrs --xattrs-include='*' -C "$s" -cf "$WORK/meta.tar" .
	assert_contains "$(ltar_pax_xattrs "$WORK/meta.tar")" "./sneaky trusted.overlay.opaque" "xattrs in the tar"
	tar -C "$WORK/owned-src" --owner=1000 --group=1001 -rf "$WORK/meta.tar" owned
	ltar layer import meta "$WORK/meta.tar" >/dev/null

	local d
	d=$(ltar_diff meta)
	assert_eq "1000 1001 640" "$(stat -c '%u %g %a' "$d/owned")" "owner and mode of owned"
	assert_eq "0 0 4755" "$(stat -c '%u %g %a' "$d/suid")" "owner and mode of suid"
	assert_eq "2775" "$(stat -c '%a' "$d/sgid")" "mode of sgid"
	assert_eq "1777" "$(stat -c '%a' "$d/dir")" "mode of dir"
	assert_eq 1000000000 "$(stat -c %Y "$d/file")" "mtime of file"
	assert_eq 1000000000 "$(stat -c %Y "$d/owned")" "mtime of owned"
	assert_eq 1100000000 "$(stat -c %Y "$d/symlink")" "mtime of symlink"
	assert_eq 1200000000 "$(stat -c %Y "$d/dir")" "mtime of dir"
	assert_eq 1200000000 "$(stat -c %Y "$d/sgid")" "mtime of sgid"
	assert_eq 1000000000 "$(stat -c %Y "$d/null")" "mtime of null"
	assert_eq 1000000000 "$(stat -c %Y "$d/fifo")" "mtime of fifo"
	assert_eq hello "$(getfattr --absolute-names --only-values -n user.test "$d/file")" "user.test of file"
	assert_eq dirvalue "$(getfattr --absolute-names --only-values -n user.dirattr "$d/dir")" "user.dirattr of dir"
	assert_eq "" "$(getfattr --absolute-names -d -m '^trusted\.overlay\.' "$d/sneaky" 2>&1)" "overlay xattrs from the tar"
	assert_eq "character special file 1:3 666" "$(stat -c '%F %t:%T %a' "$d/null")" "null"
	assert_eq "block special file 7:c8" "$(stat -c '%F %t:%T' "$d/loop")" "loop"
	assert_eq "fifo 640" "$(stat -c '%F %a' "$d/fifo")" "fifo"
	assert_eq "$(stat -c %i "$d/file")" "$(stat -c %i "$d/hardlink")" "inode of the hardlink"
	assert_eq 2 "$(stat -c %h "$d/file")" "links of file"
	assert_eq file "$(readlink "$d/symlink")" "symlink target"
	assert_file_content "$d/hardlink" content

	local m
	m=$(ltar layer mount meta)
	assert_eq "1000 1001 640" "$(stat -c '%u %g %a' "$m/owned")" "owned in the merged view"
	assert_eq 4755 "$(stat -c '%a' "$m/suid")" "suid in the merged view"
	assert_eq "$(stat -c %i "$m/file")" "$(stat -c %i "$m/hardlink")" "hardlink in the merged view"
	assert_eq hello "$(getfattr --absolute-names --only-values -n user.test "$m/file")" "user.test in the merged view"
	ltar layer umount meta
}

# ---- export -----------------------------------------------------------------------------

test_layer_tar_export_round_trip() {
	ltar_need getfattr setfattr python3
	ltar_two_layers
	local t="$WORK/top-src"
	# more of every kind on top
	mkdir "$t/x"
	echo file >"$t/x/file"
	ln "$t/x/file" "$t/x/hard"
	ln -s ../etc/config "$t/x/sym"
	mknod "$t/x/null" c 1 3
	mkfifo "$t/x/fifo"
	setfattr -n user.kept -v yes "$t/x/file"
	chown 1000:1000 "$t/x/file"
	chmod 4711 "$t/x/file"
	tar --xattrs --xattrs-include='user.*' -C "$t" -cf "$WORK/top.tar" .
	ltar layer rm top
	ltar layer import --parent base top "$WORK/top.tar" >/dev/null

	ltar layer export top >"$WORK/export.tar"
	ltar layer import --parent base again "$WORK/export.tar" >/dev/null
	assert_eq "$(ltar_tree "$(ltar_diff top)")" "$(ltar_tree "$(ltar_diff again)")" "diff trees of top and its re-import"
	local listing
	listing=$(tar -tvf "$WORK/export.tar")
	assert_contains "$listing" "etc/.wh.remove-me" "tar -tv of the export"
	assert_contains "$listing" "data/.wh..wh..opq" "tar -tv of the export"
	assert_contains "$listing" "x/hard link to x/file" "tar -tv of the export"
	assert_contains "$listing" "-rws--x--x 1000/1000" "tar -tv of the export"
	! grep -qE '^c.* 0,0 | etc/remove-me$' <<<"$listing" || fail "the export holds an overlay whiteout: $listing"
	assert_eq "$(stat -c %i "$(ltar_diff again)/x/file")" "$(stat -c %i "$(ltar_diff again)/x/hard")" "hardlink after the round trip"
	assert_eq "$(ltar layer diff top)" "$(ltar layer diff again)" "layer diff of top and its re-import"
	assert_eq y "$(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$(ltar_diff again)/data")" "opaque after the round trip"
	assert_eq "" "$(ltar_pax_xattrs "$WORK/export.tar" | grep overlay)" "overlay xattrs in the export"
	assert_contains "$(ltar_pax_xattrs "$WORK/export.tar")" "x/file user.kept" "xattrs in the export"
	# what the export shows in the merged view is what the original showed
	local m1 m2
	m1=$(ltar layer mount top)
	m2=$(ltar layer mount again)
	assert_eq "$(ltar_tree "$m1")" "$(ltar_tree "$m2")" "merged views of top and its re-import"
	ltar layer umount top
	ltar layer umount again
	expect_failure ltar layer export nope
	assert_one_line "$out" "export of a missing layer"
	assert_contains "$out" 'export layer `nope`: no such layer' "export of a missing layer"
}

# "size blocks", then each data region (offset length sha256) of a file, from SEEK_DATA/SEEK_HOLE.
ltar_regions() { # file
	python3 - "$1" <<'EOF'
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
st = os.fstat(fd)
print(st.st_size, st.st_blocks)
pos = 0
while pos < st.st_size:
    try:
        data = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    hole = os.lseek(fd, data, os.SEEK_HOLE)
    h = hashlib.sha256()
    for off in range(data, hole, 1 << 20):
        h.update(os.pread(fd, min(1 << 20, hole - off), off))
    print(data, hole - data, h.hexdigest())
    pos = hole
EOF
}

# A file of 1 TiB apparent size with two small data regions, and one of holes only: the
# export keeps the holes (a sparse pax entry of the data alone, written in well under a
# second, not 1 TiB of zeros), and importing it makes them sparse again, with the same size
# and the same data where it was. An ordinary file beside them is exported as before.
test_layer_tar_export_sparse() {
	ltar_need python3 truncate
	ltar layer create sp >/dev/null
	local d
	d=$(ltar_diff sp)
	truncate -s 1T "$d/big" "$d/holes"
	[ "$(stat -c %b "$d/holes")" -eq 0 ] || skip "the filesystem of $WORK makes no sparse files"
	printf 'hello' | dd of="$d/big" bs=1 seek=$((1 << 30)) conv=notrunc status=none
	printf 'tail' | dd of="$d/big" bs=1 seek=$(((1 << 40) - 4)) conv=notrunc status=none
	head -c 300000 /dev/urandom >"$d/plain"

	# at most 1 MiB and a byte is kept: 1 TiB of zeros would fill the tmpfs of $WORK
	local t0 t1 ms size rc
	t0=$(date +%s%N)
	"$CVOL" --root "$WORK/root" layer export sp | head -c $(((1 << 20) + 1)) >"$WORK/sp.tar"
	rc=${PIPESTATUS[0]}
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	size=$(stat -c %s "$WORK/sp.tar")
	echo "export: $ms ms, $size bytes"
	[ "$size" -le $((1 << 20)) ] || fail "the export of a 1 TiB sparse file is over 1 MiB"
	assert_eq 0 "$rc" "exit status of the export"
	[ "$ms" -lt 5000 ] || fail "the export of a 1 TiB sparse file took $ms ms"
	assert_eq "big 1099511627776 sparse
holes 1099511627776 sparse
plain 300000 -" "$(python3 -c '
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    if m.isreg():
        print(m.name, m.size, "sparse" if m.sparse is not None else "-")' "$WORK/sp.tar")" "regular files of the export"

	ltar layer import back "$WORK/sp.tar" >/dev/null
	local f
	for f in big holes; do
		assert_eq "$(ltar_regions "$d/$f")" "$(ltar_regions "$(ltar_diff back)/$f")" \
			"size, blocks and data regions of $f after the round trip"
	done
	assert_eq "1099511627776 16" "$(ltar_regions "$(ltar_diff back)/big" | head -n 1)" "size and blocks of big"
	assert_eq "$(sha256sum <"$d/plain")" "$(sha256sum <"$(ltar_diff back)/plain")" "plain after the round trip"
}

# A file of 20,000 data regions (4 KiB of data, 4 KiB of hole, over and over): more than the
# 16,384 a sparse entry may list, so some holes are written as zeros, no more than needed to
# fit; the export is still sparse, and the file comes back the same.
test_layer_tar_export_many_regions() {
	ltar_need python3
	ltar layer create many >/dev/null
	local d
	d=$(ltar_diff many)
	python3 - "$d/f" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
for i in range(20000):
    os.pwrite(fd, (b'%07d' % i) * 585 + b'x', i * 8192)
os.ftruncate(fd, 20000 * 8192)
EOF
	[ "$(ltar_regions "$d/f" | wc -l)" -eq 20001 ] || skip "the filesystem of $WORK does not keep 4 KiB holes"
	ltar layer export many >"$WORK/many.tar"
	local size
	size=$(stat -c %s "$WORK/many.tar")
	echo "export: $size bytes"
	# 82 MB of data, 8,192 holes of 4 KiB joined (34 MB), the map: not the 164 MB of the file
	[ "$size" -lt 120000000 ] || fail "the export of 20,000 regions is $size bytes"
	assert_eq "f 163840000 sparse" "$(python3 -c '
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    if m.isreg():
        print(m.name, m.size, "sparse" if m.sparse is not None else "-")' "$WORK/many.tar")" "the file in the export"
	ltar layer import back "$WORK/many.tar" >/dev/null
	assert_eq "$(sha256sum <"$d/f")" "$(sha256sum <"$(ltar_diff back)/f")" "the file after the round trip"
}

# ---- archives that try to get out ---------------------------------------------------------

test_layer_tar_evil_dotdot() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" 'f("ok"); f("../../etc/x")'
	ltar_refused evil "$WORK/evil.tar" "escapes the layer" '`../../etc/x`'
}

test_layer_tar_evil_dotdot_deep() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" 'f("a/../../../../../../outside/x"); f("../../../../../../../../../../etc/x")'
	ltar_refused evil "$WORK/evil.tar" "escapes the layer" '`a/../../../../../../outside/x`'
}

# An absolute name is taken as relative to the layer, as tar -x does.
test_layer_tar_evil_absolute() {
	ltar_sentinel
	ltar_pytar "$WORK/abs.tar" "f('/abs/path'); f('$WORK/outside/file', b'overwritten\n')"
	ltar layer import abs "$WORK/abs.tar" >/dev/null
	assert_file_content "$(ltar_diff abs)/abs/path" evil
	assert_file_content "$(ltar_diff abs)$WORK/outside/file" overwritten
	ltar_nothing_outside
	assert_eq "" "$(ls -A "$WORK/root/overlay/.staging")" ".staging after the import"
}

test_layer_tar_evil_symlink_absolute() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" 'sym("a", "/etc"); f("a/passwd")'
	ltar_refused evil "$WORK/evil.tar" "through a link that leads out of the layer" '`a/passwd`'
}

test_layer_tar_evil_symlink_relative() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" "sym('up', '../../../../..'); f('up/outside/file', b'overwritten'); d('z')"
	ltar_refused evil "$WORK/evil.tar" "through a link that leads out of the layer" '`up/outside/file`'
}

# The link is made deep, then the file goes through it, two directories down.
test_layer_tar_evil_symlink_nested() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" "d('a'); sym('a/b', '$WORK/outside'); f('a/b/dir/new')"
	ltar_refused evil "$WORK/evil.tar" "through a link that leads out of the layer" '`a/b/dir/new`'
}

test_layer_tar_evil_hardlink_absolute() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" 'f("ok"); hard("shadow", "/etc/shadow")'
	ltar_refused evil "$WORK/evil.tar" "hardlink \`shadow\`" '`/etc/shadow`'
}

test_layer_tar_evil_hardlink_dotdot() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" 'hard("h", "../../../../../outside/file")'
	ltar_refused evil "$WORK/evil.tar" "points out of the layer" '`../../../../../outside/file`'
}

test_layer_tar_evil_hardlink_through_symlink() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" "sym('o', '$WORK/outside'); hard('h', 'o/file')"
	ltar_refused evil "$WORK/evil.tar" "hardlink \`h\`" '`o/file`'
}

# `.wh..` would whiteout the directory itself, `.wh...` its parent: here the layer root.
test_layer_tar_evil_whiteout_dot() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" 'f("keep"); f(".wh..", b"")'
	ltar_refused evil "$WORK/evil.tar" "names no file of its directory" '`.wh..`'
}

test_layer_tar_evil_whiteout_dotdot() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" 'f("sub/keep"); f("sub/.wh...", b"")'
	ltar_refused evil "$WORK/evil.tar" "names no file of its directory" '`sub/.wh...`'
}

test_layer_tar_evil_long_component() {
	ltar_sentinel
	local name
	name=$(printf 'n%.0s' $(seq 1 300))
	ltar_pytar "$WORK/evil.tar" "f('d/' + 'n' * 300)"
	ltar_refused evil "$WORK/evil.tar" "too long" "d/${name:0:60}"
}

test_layer_tar_evil_long_path() {
	ltar_sentinel
	ltar_pytar "$WORK/evil.tar" "f('/'.join(['p' * 100] * 50))"
	ltar_refused evil "$WORK/evil.tar" "too long" "\`$(printf 'p%.0s' $(seq 1 64))...\`"
}

test_layer_tar_evil_truncated_gzip() {
	ltar_sentinel
	mkdir "$WORK/src"
	head -c 2000000 /dev/urandom >"$WORK/src/big"
	tar -C "$WORK/src" -czf "$WORK/full.tar.gz" big
	head -c 1000000 "$WORK/full.tar.gz" >"$WORK/cut.tar.gz"
	ltar_refused evil "$WORK/cut.tar.gz" "truncated" '`big`'
}

# ---- bad input ----------------------------------------------------------------------------

test_layer_tar_bad_input() {
	echo hello >"$WORK/src-file"
	tar -C "$WORK" -cf "$WORK/ok.tar" src-file
	expect_failure ltar layer import --parent nope child "$WORK/ok.tar"
	assert_one_line "$out" "import on a missing parent"
	assert_contains "$out" 'import layer `child`: parent layer `nope` does not exist' "import on a missing parent"
	ltar_no_layer child

	ltar layer import base "$WORK/ok.tar" >/dev/null
	local before
	before=$(find "$WORK/root" ! -name .lock | sort)
	expect_failure ltar layer import base "$WORK/ok.tar"
	assert_one_line "$out" "import of an existing id"
	assert_contains "$out" 'import layer `base`: a layer with this id already exists' "import of an existing id"

	cp "$CVOL" "$WORK/binary"
	printf 'just some text\n' >"$WORK/text.txt"
	local f
	for f in binary text.txt; do
		expect_failure ltar layer import junk "$WORK/$f"
		assert_one_line "$out" "import of $f"
		assert_contains "$out" 'import layer `junk`: read the layer archive' "import of $f"
	done
	expect_failure ltar layer import junk "$WORK/missing.tar"
	assert_one_line "$out" "import of a missing file"
	assert_contains "$out" "\`$WORK/missing.tar\`: No such file or directory" "import of a missing file"
	expect_failure ltar layer import junk - <"$WORK/text.txt"
	assert_one_line "$out" "import of text from stdin"
	assert_eq "$before" "$(find "$WORK/root" ! -name .lock | sort)" "store after refused imports"
	assert_eq 2 "$(ltar layer ls | wc -l)" "lines of layer ls"
	assert_file_content "$(ltar_diff base)/src-file" hello
}

# --userxattr: the opaque marker goes to user.overlay.opaque, for roots mounted with userxattr.
test_layer_tar_userxattr() {
	command -v getfattr >/dev/null || skip "getfattr is not installed (package attr)"
	mkdir -p "$WORK/src/opq"
	: >"$WORK/src/opq/.wh..wh..opq"
	echo n >"$WORK/src/opq/new"
	tar -C "$WORK/src" -cf "$WORK/u.tar" .
	"$CVOL" --root "$WORK/root" layer import --userxattr ux "$WORK/u.tar" >/dev/null
	local d="$WORK/root/overlay/ux/diff/opq"
	assert_eq "y" "$(getfattr --only-values -n user.overlay.opaque "$d" 2>/dev/null)" "user.overlay.opaque"
	getfattr -n trusted.overlay.opaque "$d" >/dev/null 2>&1 && fail "trusted.overlay.opaque set under --userxattr"
	"$CVOL" --root "$WORK/root" layer import tx "$WORK/u.tar" >/dev/null
	assert_eq "y" "$(getfattr --only-values -n trusted.overlay.opaque "$WORK/root/overlay/tx/diff/opq")" \
		"trusted.overlay.opaque by default"
}

# A deep layer exports and diffs (one walk with its place on the heap).
test_layer_tar_deep_tree() {
	python3 - "$WORK/deep.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    p = "/".join(["d"] * 900) + "/leaf"
    ti = tarfile.TarInfo(p); data = b"deep"; ti.size = len(data); t.addfile(ti, io.BytesIO(data))
PY
	"$CVOL" --root "$WORK/root" layer import deep "$WORK/deep.tar" >/dev/null
	"$CVOL" --root "$WORK/root" layer export deep >"$WORK/deep-out.tar"
	assert_eq 901 "$(tar -tf "$WORK/deep-out.tar" | wc -l)" "entries of the deep export (900 dirs and the leaf)"
	assert_eq 901 "$("$CVOL" --root "$WORK/root" layer diff deep | wc -l)" "lines of the deep diff"
}

# An entry under a name an earlier entry made a file: one line that says so, no layer.
test_layer_tar_file_where_dir_needed() {
	python3 - "$WORK/fd.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for name in ("a", "a/b"):
        ti = tarfile.TarInfo(name); ti.size = 1; t.addfile(ti, io.BytesIO(b"x"))
PY
	expect_failure "$CVOL" --root "$WORK/root" layer import fd "$WORK/fd.tar"
	assert_one_line "$out" "a file where a directory is needed"
	assert_contains "$out" 'open the directory of entry `a/b`: Not a directory' "a file where a directory is needed"
	assert_eq 1 "$("$CVOL" --root "$WORK/root" layer ls | wc -l)" "layers after the refused import"
}

# A tree deeper than PATH_MAX (1,500 levels, 6,000-byte paths) is exported, diffed and removed:
# the walks keep their place on the heap, not in stack frames or descriptors. Import takes
# entry names up to PATH_MAX and refuses longer ones cleanly.
test_layer_tar_deeper_than_path_max() {
	ltar layer create deep >/dev/null
	python3 - "$(ltar_diff deep)" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(1500):
    os.mkdir("d00", dir_fd=fd)
    nfd = os.open("d00", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("bottom\n")
PY
	ltar layer export deep >"$WORK/deep.tar"
	assert_eq 1501 "$(ltar layer diff deep | grep -c '^A ')" "entries the diff adds"
	assert_contains "$(ltar layer diff deep | tail -1)" "/d00/leaf" "the deepest entry"
	assert_eq 1501 "$(tar -tf "$WORK/deep.tar" | wc -l)" "entries exported"
	expect_failure ltar layer import copy "$WORK/deep.tar"
	assert_contains "$out" "is too long" "import of a name longer than PATH_MAX"
	assert_missing "$WORK/root/overlay/copy"
	ltar layer rm deep >/dev/null
	assert_missing "$WORK/root/overlay/deep"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.staging")" "staging after removing deep layers"
}
