# cvol image import: `docker save` output and OCI layouts (directories and tars) into the
# layer store. Cross-checked against Docker's own overlay2 driver (a private dockerd, as
# in test-docker.sh); the other tests build their images with python3, so they need no
# docker: idempotency, OCI layouts, digest mismatches and bad input, progress output.

img_cvol() { "$CVOL" --root "$WORK/root" "$@"; }

# The layer dirs of the store (ids), sorted, one a line.
img_layer_dirs() {
	find "$WORK/root/overlay" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name l -printf '%f\n' | sort
}

# Mtime, ctime and inode of every layer dir and of its diff: what a reuse must not touch.
img_layer_stamps() {
	local id
	img_layer_dirs | while read -r id; do
		stat -c '%n %.9Y %.9Z %i' "$WORK/root/overlay/$id" "$WORK/root/overlay/$id/diff"
	done
}

# Ids `cvol layer ls --json` lists, sorted, on one line.
img_layer_ids() {
	img_cvol layer ls --json | python3 -c 'import json, sys; print(" ".join(sorted(l["id"] for l in json.load(sys.stdin))))'
}

# The chain of layer TOP, base first, one id a line.
img_chain() { # top
	img_cvol layer ls --json | python3 -c '
import json, sys
parent = {l["id"]: l.get("parent") for l in json.load(sys.stdin)}
top, chain = sys.argv[1], []
while top:
    chain.append(top)
    top = parent[top]
print("\n".join(reversed(chain)))' "$1"
}

# What .staging holds (nothing, once an import has ended).
img_staging() {
	find "$WORK/root/overlay/.staging" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort | paste -sd ' '
}

# The python side of the tests: listings of trees and tars, and images built by hand.
#   tree DIR [EXCLUDED...]   one line per entry: path type mode owner size and, for a file,
#                            its sha256 (and the first name of its inode when it has several
#                            in the tree), for a symlink its target, for a node its rdev;
#                            an EXCLUDED path is left out with everything beneath it.
#   tar FILE                 the same for the members of a tar; OCI whiteouts by name only.
#   oci DIR [plain]          an OCI image layout of IMG_LAYERS (gzip, or plain tars with plain),
#                            index.json -> manifest.
#   docker DIR [big]         the same layers as `docker save` (Docker 20.10, legacy) writes them;
#                            with big, each layer has a file of 1.6 MB more (over the 1 MiB
#                            that cvol keeps in memory from an image tar).
#   chain DIGEST...          the chain ID of diff_ids (OCI image spec), as a cvol layer id.
#   diffids DIR              the diff_ids of the image of a `docker save` dir, in order.
#   layer DIR N              the path in the image (docker save or OCI dir) of layer N (0 first)
#                            and the digest it must have (blob digest, else its diff_id).
#   flip TAR MEMBER          one byte of MEMBER's content in the plain tar TAR changed in place.
img_py() {
	python3 - "$@" <<'EOF'
import gzip, hashlib, io, json, os, stat, sys, tarfile

def sha(b):
    return hashlib.sha256(b).hexdigest()

def tree(root, excluded):
    excluded = {e.strip('/') for e in excluded}
    rows, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if rel in excluded:
                if name in dirnames:
                    dirnames.remove(name)
                continue
            st = os.lstat(p)
            m = st.st_mode
            row = [rel, stat.filemode(m)[0], '%04o' % stat.S_IMODE(m), '%d:%d' % (st.st_uid, st.st_gid)]
            if not stat.S_ISDIR(m):
                row.append(str(st.st_size))
            if stat.S_ISREG(m):
                with open(p, 'rb') as f:
                    row.append(sha(f.read()))
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISLNK(m):
                row.append('-> ' + os.readlink(p))
            elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
                row.append('rdev %d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev)))
            rows[rel] = row
    for names in inodes.values():
        if len(names) > 1:
            for n in names:
                rows[n].append('inode of ' + min(names))
    for rel in sorted(rows):
        print(' '.join(rows[rel]))

def tar_list(path):
    types = {tarfile.REGTYPE: '-', tarfile.AREGTYPE: '-', tarfile.DIRTYPE: 'd', tarfile.SYMTYPE: 'l',
             tarfile.LNKTYPE: 'h', tarfile.CHRTYPE: 'c', tarfile.BLKTYPE: 'b', tarfile.FIFOTYPE: 'p'}
    rows = []
    with tarfile.open(path) as t:
        for m in t:
            name = m.name
            while name.startswith('./'):
                name = name[2:]
            name = name.strip('/')
            if name in ('', '.'):
                continue  # the root: a layer takes its owner and mode from below
            if os.path.basename(name).startswith('.wh.'):
                rows.append('%s whiteout' % name)
                continue
            row = [name, types.get(m.type, m.type.decode()), '%04o' % (m.mode & 0o7777), '%d:%d' % (m.uid, m.gid)]
            if m.isreg():
                row += [str(m.size), sha(t.extractfile(m).read())]
            elif m.issym():
                row.append('-> ' + m.linkname)
            elif m.islnk():
                row.append('link to ' + m.linkname.lstrip('./'))
            elif m.ischr() or m.isblk():
                row.append('rdev %d:%d' % (m.devmajor, m.devminor))
            rows.append(' '.join(row))
    for r in sorted(rows):
        print(r)

# The image of the tests: three layers that add, change and delete (whiteouts, an opaque
# directory), with a symlink, a hardlink, setuid and setgid files, owners other than root.
BIG = b''.join(hashlib.sha256(b'%d' % i).digest() for i in range(10000))  # 320000 bytes
IMG_LAYERS = [
    [('d', 'etc', 0o755), ('f', 'etc/os-release', 0o644, b'NAME=cvol-test\n'),
     ('d', 'app', 0o755), ('f', 'app/keep.txt', 0o644, b'keep\n'), ('f', 'app/change.txt', 0o644, b'v1\n'),
     ('f', 'app/gone.txt', 0o644, b'gone\n'), ('d', 'app/conf', 0o755), ('f', 'app/conf/old.conf', 0o644, b'old\n'),
     ('d', 'app/conf/sub', 0o750), ('f', 'app/conf/sub/deep.conf', 0o644, b'deep\n'),
     ('l', 'app/link', 'keep.txt'), ('h', 'app/hard', 'app/keep.txt'),
     ('f', 'app/suid', 0o4755, b'#!/bin/sh\n'), ('f', 'app/sgid', 0o2711, b'#!/bin/sh\n'),
     ('f', 'app/owned', 0o640, b'mine\n', 1000, 1000),
     ('d', 'home', 0o755), ('d', 'home/user', 0o700, 1000, 1000), ('f', 'home/user/.profile', 0o600, b'x\n', 1000, 1000)],
    [('d', 'app', 0o755), ('f', 'app/change.txt', 0o644, b'v2\n'), ('w', 'app/.wh.gone.txt'),
     ('d', 'app/conf', 0o700), ('w', 'app/conf/.wh..wh..opq'), ('f', 'app/conf/new.conf', 0o600, b'new\n'),
     ('f', 'app/added.txt', 0o644, b'added\n')],
    [('d', 'app', 0o755), ('w', 'app/.wh.link'), ('f', 'app/gone.txt', 0o644, b'back\n'),
     ('f', 'app/big', 0o644, BIG), ('w', '.wh.home')],
]

def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e[1])
            ti.mtime = 1700000000
            if e[0] == 'd':
                ti.type, ti.mode = tarfile.DIRTYPE, e[2]
                if len(e) > 3:
                    ti.uid, ti.gid = e[3], e[4]
                t.addfile(ti)
            elif e[0] == 'f':
                ti.mode, ti.size = e[2], len(e[3])
                if len(e) > 4:
                    ti.uid, ti.gid = e[4], e[5]
                t.addfile(ti, io.BytesIO(e[3]))
            elif e[0] == 'w':
                ti.mode = 0o600
                t.addfile(ti, io.BytesIO(b''))
            elif e[0] == 'l':
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e[2], 0o777
                t.addfile(ti)
            elif e[0] == 'h':
                ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, e[2], 0o644
                t.addfile(ti)
    return buf.getvalue()

def config(diff_ids):
    return json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {},
                       'rootfs': {'type': 'layers', 'diff_ids': diff_ids}}).encode()

def put_blob(out, data):
    d = sha(data)
    with open(os.path.join(out, 'blobs', 'sha256', d), 'wb') as f:
        f.write(data)
    return 'sha256:' + d, len(data)

def oci(out, plain=False):
    os.makedirs(os.path.join(out, 'blobs', 'sha256'))
    diff_ids, layers = [], []
    for entries in IMG_LAYERS:
        raw = layer_tar(entries)
        diff_ids.append('sha256:' + sha(raw))
        d, n = put_blob(out, raw if plain else gzip.compress(raw, mtime=0))
        media = 'application/vnd.oci.image.layer.v1.tar' + ('' if plain else '+gzip')
        layers.append({'mediaType': media, 'digest': d, 'size': n})
    cd, cn = put_blob(out, config(diff_ids))
    manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                           'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cd, 'size': cn},
                           'layers': layers}).encode()
    md, mn = put_blob(out, manifest)
    with open(os.path.join(out, 'oci-layout'), 'w') as f:
        json.dump({'imageLayoutVersion': '1.0.0'}, f)
    with open(os.path.join(out, 'index.json'), 'w') as f:
        json.dump({'schemaVersion': 2, 'manifests': [{'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                   'digest': md, 'size': mn, 'annotations': {'org.opencontainers.image.ref.name': 'latest'}}]}, f)
    print(chain(diff_ids))

def docker(out, big=False):
    os.makedirs(out)
    diff_ids, paths = [], []
    for i, entries in enumerate(IMG_LAYERS):
        raw = layer_tar(entries + ([('f', 'big%d' % i, 0o644, BIG * 5)] if big else []))
        diff_ids.append('sha256:' + sha(raw))
        lid = sha(b'layer %d' % i)
        os.makedirs(os.path.join(out, lid))
        with open(os.path.join(out, lid, 'layer.tar'), 'wb') as f:
            f.write(raw)
        paths.append(lid + '/layer.tar')
    cfg = config(diff_ids)
    with open(os.path.join(out, sha(cfg) + '.json'), 'wb') as f:
        f.write(cfg)
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump([{'Config': sha(cfg) + '.json', 'RepoTags': ['img:latest'], 'Layers': paths}], f)
    print(chain(diff_ids))

def chain(diff_ids):
    c = diff_ids[0]
    for d in diff_ids[1:]:
        c = 'sha256:' + sha((c + ' ' + d).encode())
    return 'sha256-' + c[len('sha256:'):]

def layer(out, n):
    if os.path.exists(os.path.join(out, 'manifest.json')):
        with open(os.path.join(out, 'manifest.json')) as f:
            m = json.load(f)[0]
        with open(os.path.join(out, m['Config'])) as f:
            print(m['Layers'][n], json.load(f)['rootfs']['diff_ids'][n])
        return
    with open(os.path.join(out, 'index.json')) as f:
        md = json.load(f)['manifests'][0]['digest']
    with open(os.path.join(out, 'blobs', 'sha256', md[7:])) as f:
        d = json.load(f)['layers'][n]['digest']
    print('blobs/sha256/' + d[7:], d)

def flip(path, member):
    with tarfile.open(path) as t:
        off = t.getmember(member).offset_data
    with open(path, 'r+b') as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x20]))

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == 'tree':
    tree(args[0], args[1:])
elif cmd == 'tar':
    tar_list(args[0])
elif cmd == 'oci':
    oci(args[0], args[1:] == ['plain'])
elif cmd == 'docker':
    docker(args[0], args[1:] == ['big'])
elif cmd == 'chain':
    print(chain(args))
elif cmd == 'layer':
    layer(args[0], int(args[1]))
elif cmd == 'flip':
    flip(args[0], args[1])
elif cmd == 'diffids':
    with open(os.path.join(args[0], 'manifest.json')) as f:
        m = json.load(f)[0]
    with open(os.path.join(args[0], m['Config'])) as f:
        print(' '.join(json.load(f)['rootfs']['diff_ids']))
EOF
}

# The tests build and read images with python3.
img_require_python() {
	command -v python3 >/dev/null || skip "python3 is not installed"
}

# Two listings must be equal; on a difference, fail with the first lines of the diff.
img_assert_same() { # expected-file actual-file what
	local d
	if ! d=$(diff -u "$1" "$2"); then
		printf '%s\n' "$d" | head -n 40
		fail "$3 differ: $(printf '%s\n' "$d" | grep '^[-+][^-+]' | head -n 4 | paste -sd '|')"
		return 1
	fi
}

# What the top of IMG_LAYERS shows, mounted at DIR.
img_assert_top_view() { # dir
	local m=$1
	assert_file_content "$m/etc/os-release" "NAME=cvol-test"
	assert_file_content "$m/app/keep.txt" keep
	assert_file_content "$m/app/change.txt" v2
	assert_file_content "$m/app/gone.txt" back
	assert_file_content "$m/app/added.txt" added
	assert_file_content "$m/app/conf/new.conf" new
	assert_eq "app/conf/new.conf" "$(cd "$m" && find app/conf -mindepth 1)" "app/conf (opaque in layer 2)"
	assert_eq "700 0:0" "$(stat -c '%a %u:%g' "$m/app/conf")" "mode of the replaced directory"
	assert_missing "$m/app/link"
	assert_missing "$m/home"
	assert_missing "$m/app/.wh.gone.txt"
	assert_eq "4755 2711 640 1000:1000" "$(stat -c %a "$m/app/suid" "$m/app/sgid" "$m/app/owned" | paste -sd ' ') $(stat -c %u:%g "$m/app/owned")" \
		"setuid, setgid, owned files"
	assert_eq "$(stat -c %i "$m/app/keep.txt") 2" "$(stat -c '%i %h' "$m/app/hard")" "the hardlink app/hard"
	assert_eq 320000 "$(stat -c %s "$m/app/big")" "size of app/big"
}

# ---- docker ------------------------------------------------------------------

# A private dockerd (overlay2, no plugin) and a busybox base image with the applets the
# steps use; stopped by docker_e2e_teardown when the test ends.
img_docker_setup() {
	docker_e2e_isolate '{"storage-driver": "overlay2"}'
	docker_e2e_dockerd_start
	assert_eq overlay2 "$(docker_e2e_ok info --format '{{.Driver}}')" "dockerd's storage driver"

	local dir="$WORK/bb" applet
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
	chmod 1777 "$dir/tmp"
	cp "$DOCKER_E2E_BUSYBOX" "$dir/bin/busybox"
	for applet in sh cat echo mkdir rm ln chmod chown mkfifo dd cp touch; do
		ln -s busybox "$dir/bin/$applet"
	done
	tar -C "$dir" -cf "$WORK/bb.tar" .
	docker_e2e_ok import "$WORK/bb.tar" img:0 >/dev/null
}

# One image step: run the shell script in a container of img:N-1, commit it as img:N.
img_docker_step() { # n script
	docker_e2e_ok run --network none --name "step$1" "img:$(($1 - 1))" sh -ec "$2" >/dev/null
	docker_e2e_ok commit "step$1" "img:$1" >/dev/null
	docker_e2e_ok rm "step$1" >/dev/null
}

# The image built by docker through overlay2, imported by cvol, against docker's own view:
# the tree of a container, the chain ID, the top layer's changes, and docker's import of
# cvol's export.
test_image_docker_overlay2() {
	img_require_python
	img_docker_setup
	img_docker_step 1 '
		mkdir -p /app/conf/sub /app/data /app/pair /keep
		echo hello > /app/hello.txt; echo v1 > /app/change.txt; echo gone > /app/delete-me
		echo old > /app/conf/old.conf; echo deep > /app/conf/sub/deep.conf
		ln -s ../app/hello.txt /keep/to-hello; ln -s /nonexistent /keep/dangling
		echo doomed > /app/data/orig; ln /app/data/orig /app/data/link
		echo shared > /app/pair/a; ln /app/pair/a /app/pair/b
		echo twin > /app/twin1; ln /app/twin1 /app/twin2
		echo "#!/bin/sh" > /app/suid; chmod 4755 /app/suid; echo x > /app/sgid; chmod 2711 /app/sgid
		echo mine > /app/owned; chown 1000:1000 /app/owned; chmod 640 /app/owned
		mkdir /home; mkdir /home/user; chown 1000:1000 /home/user; chmod 700 /home/user
		mkfifo /app/fifo
		dd if=/dev/urandom of=/app/big bs=64k count=16 2>/dev/null'
	img_docker_step 2 '
		echo v2 > /app/change.txt
		rm /app/delete-me /keep/dangling
		rm -rf /app/conf; mkdir /app/conf; chmod 700 /app/conf; echo new > /app/conf/new.conf
		echo added > /app/added.txt
		chmod 600 /app/hello.txt
		chown 1000:1000 /keep /app/pair/b
		echo more >> /app/big'
	img_docker_step 3 '
		rm -rf /app/data /home
		echo back > /app/delete-me
		ln -s hello.txt /app/rel-link
		mkdir -p /opt/x/y; echo deep > /opt/x/y/f; ln /opt/x/y/f /opt/x/y/g
		touch /app/added.txt'

	# docker's view: a container of img:3, as `docker export` writes it
	docker_e2e_ok create --network none --name view img:3 >/dev/null
	docker_e2e_ok export -o "$WORK/view.tar" view
	mkdir "$WORK/view"
	tar -C "$WORK/view" --numeric-owner -xpf "$WORK/view.tar"
	local added=(.dockerenv etc/hostname etc/hosts etc/resolv.conf etc/mtab dev proc sys)
	img_py tree "$WORK/view" "${added[@]}" >"$WORK/view.list"
	grep -q '^app/suid - 4755 0:0 ' "$WORK/view.list" || fail "docker's view lacks the setuid file: $(grep app/suid "$WORK/view.list")"

	# cvol's: the saved image imported, a container layer on top, mounted
	docker_e2e_ok save -o "$WORK/img.tar" img:3
	local top t0 t1 merged
	t0=$(date +%s%N)
	top=$(img_cvol image import "$WORK/img.tar")
	t1=$(date +%s%N)
	echo "import of the docker image: $(((t1 - t0) / 1000000)) ms"
	assert_eq 4 "$(img_layer_dirs | wc -l)" "layers after the import (busybox and 3 steps)"
	# the top id is docker's own chain ID: its layerdb has it
	[ -d "$WORK/docker/image/overlay2/layerdb/sha256/${top#sha256-}" ] ||
		fail "cvol's top layer $top is not a chain ID of docker's layerdb: $(ls "$WORK/docker/image/overlay2/layerdb/sha256")"
	img_cvol layer create --parent "$top" ctr >/dev/null
	merged=$(img_cvol layer mount ctr)
	img_py tree "$merged" >"$WORK/cvol.list"
	img_assert_same "$WORK/view.list" "$WORK/cvol.list" "docker's container and cvol's mount"
	img_cvol layer umount ctr

	grep -qx 'app/twin2 - 0644 0:0 5 [0-9a-f]* inode of app/twin1' "$WORK/cvol.list" ||
		fail "the hardlink of a lower layer in cvol's mount: $(grep twin2 "$WORK/cvol.list")"

	# every layer: cvol's export against docker's own layer tar (what overlay2 recorded)
	mkdir "$WORK/saved"
	tar -C "$WORK/saved" -xf "$WORK/img.tar"
	local docker_layers ids i=0 id
	mapfile -t docker_layers < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$WORK/saved/manifest.json")
	mapfile -t ids < <(img_chain "$top")
	assert_eq "${#docker_layers[@]}" "${#ids[@]}" "layers in cvol's chain and in docker's manifest"
	for id in "${ids[@]}"; do
		img_cvol layer export "$id" >"$WORK/layer$i.tar"
		img_py tar "$WORK/saved/${docker_layers[$i]}" >"$WORK/docker-layer$i.list"
		img_py tar "$WORK/layer$i.tar" >"$WORK/cvol-layer$i.list"
		img_assert_same "$WORK/docker-layer$i.list" "$WORK/cvol-layer$i.list" "docker's layer $i tar and cvol's export of it"
		i=$((i + 1))
	done
	grep -qx 'app/conf/.wh..wh..opq whiteout' "$WORK/cvol-layer2.list" || fail "no opaque marker for app/conf in cvol's export of layer 2"
	grep -qx 'app/.wh.delete-me whiteout' "$WORK/cvol-layer2.list" || fail "no whiteout of app/delete-me in cvol's export of layer 2"
	grep -qx 'app/.wh.data whiteout' "$WORK/cvol-layer3.list" || fail "no whiteout of app/data in cvol's export of layer 3"
	cp "$WORK/layer3.tar" "$WORK/top.tar"
	cp "$WORK/cvol-layer3.list" "$WORK/cvol-top.list"

	# docker imports cvol's export: one layer, the same entries, and its diff_id is the
	# export's own sha256 (docker took the tar as it is)
	docker_e2e_ok import "$WORK/top.tar" cvol-top:latest >/dev/null
	docker_e2e_ok save -o "$WORK/reimport.tar" cvol-top:latest
	mkdir "$WORK/reimport"
	tar -C "$WORK/reimport" -xf "$WORK/reimport.tar"
	local layers
	layers=$(python3 -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$WORK/reimport/manifest.json")
	assert_eq 1 "$(wc -w <<<"$layers")" "layers of docker's import of cvol's export"
	img_py tar "$WORK/reimport/$layers" >"$WORK/reimport.list"
	img_assert_same "$WORK/cvol-top.list" "$WORK/reimport.list" "cvol's export and docker's saved import of it"
	assert_eq "sha256:$(sha256sum <"$WORK/top.tar" | cut -d' ' -f1)" "$(img_py diffids "$WORK/reimport")" \
		"diff_id docker gave cvol's export"

	# the same save as a directory: the same id, every layer reused
	local before
	before=$(img_layer_dirs)
	assert_eq "$top" "$(img_cvol image import "$WORK/saved")" "top id of the saved dir"
	assert_eq "$before" "$(img_layer_dirs)" "layers after importing the saved dir"

	# one byte of a real layer.tar changed (the third of four), into a fresh store: refused
	# before any layer is added, nothing left staged
	local bad
	bad=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["Layers"][2])' "$WORK/saved/manifest.json")
	printf 'X' | dd of="$WORK/saved/$bad" bs=1 seek=600 conv=notrunc status=none
	expect_failure "$CVOL" --root "$WORK/root-c" image import "$WORK/saved"
	assert_one_line "$out" "import of a corrupted docker save"
	assert_contains "$out" "does not match its digest" "import of a corrupted docker save"
	assert_eq "" "$(find "$WORK/root-c/overlay" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name l)" \
		"layers after a refused import"
	assert_eq "" "$(find "$WORK/root-c/overlay/.staging" -mindepth 1)" ".staging after a refused import"
}

# ---- without docker ---------------------------------------------------------------

# The same file twice: the same top id, every layer reused untouched, and quickly.
test_image_import_idempotent() {
	img_require_python
	local top top2 again dirs mtimes t0 t1 ms
	top=$(img_py oci "$WORK/oci")
	tar -C "$WORK/oci" -cf "$WORK/oci.tar" .
	assert_eq "$top" "$(img_cvol image import "$WORK/oci.tar")" "top id (the chain ID of the diff_ids)"
	dirs=$(img_layer_dirs)
	assert_eq 3 "$(wc -l <<<"$dirs")" "layers after the first import"
	mtimes=$(img_layer_stamps)
	sleep 0.05
	t0=$(date +%s%N)
	again=$(img_cvol image import "$WORK/oci.tar")
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	echo "second import: $ms ms"
	assert_eq "$top" "$again" "top id of the second import"
	assert_eq "$dirs" "$(img_layer_dirs)" "layer dirs after the second import"
	assert_eq "$mtimes" "$(img_layer_stamps)" \
		"times and inodes of the reused layers"
	[ "$ms" -lt 2000 ] || fail "the second import took $ms ms"
	assert_eq "" "$(img_staging)" ".staging after the imports"
	# the same layers as `docker save` writes them: the same chain, nothing new
	top2=$(img_py docker "$WORK/saved")
	assert_eq "$top" "$top2" "chain ID of the docker-save form"
	assert_eq "$top" "$(img_cvol image import "$WORK/saved")" "top id of the docker-save form"
	assert_eq "$dirs" "$(img_layer_dirs)" "layer dirs after importing the docker-save form"
	assert_eq "$mtimes" "$(img_layer_stamps)" \
		"times and inodes after importing the docker-save form"
}

# An OCI layout made by hand, as a directory and as a tar: the chain of layers, their
# whiteouts as overlay's, and the top mounted.
test_image_oci_layout() {
	img_require_python
	local top id m
	top=$(img_py oci "$WORK/oci")
	img_py docker "$WORK/oci-as-docker" >/dev/null
	(cd "$WORK/oci" && tar -cf "$WORK/oci.tar" .)
	assert_eq "$top" "$(img_cvol image import "$WORK/oci")" "top id of the OCI dir"

	# the chain, by parent: the layers named by the chain IDs of the diff_ids
	local ids mid
	mapfile -t ids < <(img_chain "$top")
	assert_eq 3 "${#ids[@]}" "layers in the chain of the top layer"
	assert_eq "${ids[2]}" "$top" "top of the chain"
	assert_eq "${ids[0]}" "$(img_py chain "$(img_py diffids "$WORK/oci-as-docker" | cut -d' ' -f1)")" \
		"id of the base layer (its diff_id)"
	mid=${ids[1]}

	# overlay's whiteouts in the diffs, and what `layer diff` makes of them
	assert_eq "character special file" "$(stat -c %F "$WORK/root/overlay/$mid/diff/app/gone.txt")" "whiteout of app/gone.txt"
	assert_missing "$WORK/root/overlay/$mid/diff/app/.wh.gone.txt"
	assert_missing "$WORK/root/overlay/$mid/diff/app/conf/.wh..wh..opq"
	assert_eq "y" "$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$WORK/root/overlay/$mid/diff/app/conf")" \
		"opaque mark of app/conf"
	local d
	d=$(img_cvol layer diff "$mid")
	assert_contains "$d" "D /app/gone.txt" "layer diff of layer 2"
	assert_contains "$d" "A /app/added.txt" "layer diff of layer 2"
	assert_contains "$d" "C /app/change.txt" "layer diff of layer 2"
	d=$(img_cvol layer diff "$top")
	assert_contains "$d" "D /home" "layer diff of layer 3"
	assert_contains "$d" "D /app/link" "layer diff of layer 3"

	m=$(img_cvol layer mount "$top")
	img_assert_top_view "$m"
	img_py tree "$m" >"$WORK/dir.list"
	img_cvol layer umount "$top"

	# the tar of the layout, into another store: the same id and the same tree
	id=$("$CVOL" --root "$WORK/root2" image import "$WORK/oci.tar")
	assert_eq "$top" "$id" "top id of the OCI tar"
	assert_eq "" "$(find "$WORK/root2/overlay/.staging" -mindepth 1)" ".staging after the tar import"
	m=$("$CVOL" --root "$WORK/root2" layer mount "$top")
	img_assert_top_view "$m"
	img_py tree "$m" >"$WORK/tar.list"
	"$CVOL" --root "$WORK/root2" layer umount "$top"
	img_assert_same "$WORK/dir.list" "$WORK/tar.list" "the OCI dir and the OCI tar mounted"

	# an index that points at another index (an image for several platforms) is followed
	python3 - "$WORK/oci" <<'EOF'
import hashlib, json, os, sys
out = sys.argv[1]
with open(os.path.join(out, 'index.json')) as f:
    inner = f.read().encode()
d = hashlib.sha256(inner).hexdigest()
with open(os.path.join(out, 'blobs', 'sha256', d), 'wb') as f:
    f.write(inner)
with open(os.path.join(out, 'index.json'), 'w') as f:
    json.dump({'schemaVersion': 2, 'manifests': [{'mediaType': 'application/vnd.oci.image.index.v1+json',
               'digest': 'sha256:' + d, 'size': len(inner)}]}, f)
EOF
	assert_eq "$top" "$("$CVOL" --root "$WORK/root3" image import "$WORK/oci")" "top id through a nested index"
}

# Corrupted blobs are refused with one line, before anything is added; broken manifests
# and a directory that is no image are refused with one clear line.
test_image_digest_mismatch() {
	img_py oci "$WORK/oci" >/dev/null
	img_py docker "$WORK/saved" >/dev/null
	local blob layer
	# the second layer of three: a blob of the manifest's layers, one byte changed
	blob=$(python3 -c '
import json, os, sys
o = sys.argv[1]
idx = json.load(open(os.path.join(o, "index.json")))
m = json.load(open(os.path.join(o, "blobs/sha256", idx["manifests"][0]["digest"][7:])))
print(os.path.join(o, "blobs/sha256", m["layers"][1]["digest"][7:]))' "$WORK/oci")
	printf '\xff' | dd of="$blob" bs=1 seek=100 conv=notrunc status=none
	(cd "$WORK/oci" && tar -cf "$WORK/oci.tar" .)
	layer=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["Layers"][1])' "$WORK/saved/manifest.json")
	printf 'X' | dd of="$WORK/saved/$layer" bs=1 seek=600 conv=notrunc status=none

	local what path
	for what in oci oci.tar saved; do
		path="$WORK/$what"
		expect_failure img_cvol image import "$path"
		assert_one_line "$out" "import of $what with a corrupted layer"
		assert_contains "$out" "does not match its digest" "import of $what with a corrupted layer"
		assert_contains "$out" "cvol: import image \`$path\`" "import of $what with a corrupted layer"
		assert_eq "" "$(img_layer_ids)" "layers listed after the refused import of $what"
		assert_eq "" "$(img_staging)" ".staging after the refused import of $what"
	done

	# a corrupted manifest blob (OCI): its digest is checked too
	img_py oci "$WORK/oci2" >/dev/null
	local manifest
	manifest=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"][7:])' "$WORK/oci2/index.json")
	sed -i 's/"schemaVersion": 2/"schemaVersion": 3/' "$WORK/oci2/blobs/sha256/$manifest"
	expect_failure img_cvol image import "$WORK/oci2"
	assert_one_line "$out" "import with a changed manifest"
	assert_contains "$out" "does not match its digest" "import with a changed manifest"

	# manifest.json that is not JSON
	mkdir "$WORK/notjson"
	echo '[{"Config": "x.json", "Layers": [' >"$WORK/notjson/manifest.json"
	expect_failure img_cvol image import "$WORK/notjson"
	assert_one_line "$out" "import of a manifest.json that is not JSON"
	assert_contains "$out" "manifest.json\` is not valid JSON" "import of a manifest.json that is not JSON"

	# a directory that is no image, and a tar of one
	mkdir "$WORK/empty"
	echo hi >"$WORK/empty/readme"
	expect_failure img_cvol image import "$WORK/empty"
	assert_one_line "$out" "import of a directory that is no image"
	assert_contains "$out" "neither manifest.json (docker save) nor index.json (OCI layout) found" \
		"import of a directory that is no image"
	tar -C "$WORK/empty" -cf "$WORK/empty.tar" .
	expect_failure img_cvol image import "$WORK/empty.tar"
	assert_one_line "$out" "import of a tar that is no image"
	assert_contains "$out" "neither manifest.json" "import of a tar that is no image"
	expect_failure img_cvol image import "$WORK/nope"
	assert_one_line "$out" "import of a missing path"
	assert_contains "$out" "No such file or directory" "import of a missing path"

	assert_eq "" "$(img_layer_ids)" "layers listed after every refused import"
	assert_eq "" "$(img_staging)" ".staging after every refused import"
}

# One byte of a file's content changed in the middle layer of three, the manifest and config
# unchanged: the tar still unpacks, so only the digest check on the one read that imports the
# layer can refuse it. One line naming the layer and its digest; none of the image's layers
# listed (the first, made and checked by then, is removed again), nothing staged, no short
# link left. Docker save as a dir and a tar; OCI with plain layers as a dir and a tar, and
# with gzip layers (a byte of the compressed blob).
test_image_corrupt_layer_single_pass() {
	img_require_python
	img_py docker "$WORK/saved" >/dev/null
	img_py oci "$WORK/oci-plain" plain >/dev/null
	img_py oci "$WORK/oci-gz" >/dev/null
	local what path layer digest size
	read -r layer digest < <(img_py layer "$WORK/saved" 1)
	img_py flip "$WORK/saved/$layer" app/added.txt
	read -r layer digest < <(img_py layer "$WORK/oci-plain" 1)
	img_py flip "$WORK/oci-plain/$layer" app/added.txt
	read -r layer digest < <(img_py layer "$WORK/oci-gz" 1)
	size=$(stat -c %s "$WORK/oci-gz/$layer")
	printf '\x55' | dd of="$WORK/oci-gz/$layer" bs=1 seek=$((size / 2)) conv=notrunc status=none
	tar -C "$WORK/saved" -cf "$WORK/saved.tar" .
	tar -C "$WORK/oci-plain" -cf "$WORK/oci-plain.tar" .

	for what in saved saved.tar oci-plain oci-plain.tar oci-gz; do
		path="$WORK/$what"
		read -r layer digest < <(img_py layer "$WORK/${what%.tar}" 1)
		expect_failure img_cvol image import "$path"
		assert_one_line "$out" "import of $what with a byte changed"
		assert_contains "$out" "cvol: import image \`$path\`: layer \`$layer\` does not match its digest $digest (it is sha256:" \
			"import of $what with a byte changed"
		assert_eq "" "$(img_layer_ids)" "layers listed after the refused import of $what"
		assert_eq "" "$(img_staging)" ".staging after the refused import of $what"
		assert_eq "" "$(ls -A "$WORK/root/overlay/l")" "short links after the refused import of $what"
	done
}

# Each layer is read once: a docker save dir opens every layer.tar once; an image tar is
# opened to look at it, to index its small members, and once for each layer (each over the
# 1 MiB kept in memory), where a check before the import would open it twice.
test_image_reads_layers_once() {
	img_require_python
	command -v strace >/dev/null || skip "strace is not installed"
	local i layer digest n top
	top=$(img_py docker "$WORK/saved" big)
	tar -C "$WORK/saved" -cf "$WORK/saved.tar" .
	assert_eq "$top" "$(strace -f -qq -e trace=open,openat,openat2 -o "$WORK/dir.trace" \
		"$CVOL" --root "$WORK/root" image import "$WORK/saved")" "top id of the dir"
	for i in 0 1 2; do
		read -r layer digest < <(img_py layer "$WORK/saved" "$i")
		n=$(grep -c "\"$layer\"" "$WORK/dir.trace" || true)
		assert_eq 1 "$n" "opens of layer $i ($layer) by the import of the dir"
	done
	assert_eq "$top" "$(strace -f -qq -e trace=open,openat,openat2 -o "$WORK/tar.trace" \
		"$CVOL" --root "$WORK/root2" image import "$WORK/saved.tar")" "top id of the tar"
	n=$(grep -c "\"$WORK/saved.tar\"" "$WORK/tar.trace" || true)
	assert_eq 5 "$n" "opens of the image tar (1 + 1 + one for each of 3 layers)"
}

# Progress on a terminal only: "layers N/N" on stderr; nothing when it is not a terminal.
test_image_progress() {
	command -v script >/dev/null || skip "script (util-linux) is not installed"
	local top tty_out
	top=$(img_py oci "$WORK/oci")
	tty_out=$(timeout 20 script -qec "'$CVOL' --root '$WORK/root' image import '$WORK/oci' 2>&1 >'$WORK/tty.stdout'" /dev/null </dev/null)
	assert_contains "$tty_out" "layers 1/3" "progress on a terminal"
	assert_contains "$tty_out" "layers 3/3 (0 already here)" "progress on a terminal"
	assert_eq "$top" "$(cat "$WORK/tty.stdout")" "stdout of the import on a terminal"
	tty_out=$(timeout 20 script -qec "'$CVOL' --root '$WORK/root' image import '$WORK/oci' 2>&1 >/dev/null" /dev/null </dev/null)
	assert_contains "$tty_out" "layers 3/3 (3 already here)" "progress of the second import on a terminal"

	# not a terminal: only the id, on stdout
	"$CVOL" --root "$WORK/root-b" image import "$WORK/oci" >"$WORK/out" 2>"$WORK/err"
	assert_eq "$top" "$(cat "$WORK/out")" "stdout when stderr is not a terminal"
	assert_eq "" "$(cat "$WORK/err")" "stderr when it is not a terminal"
}

# A compressed layer whose tar is not the diff_id the config names (and the layer would be
# stored and reused under) is refused, though the blob itself matches its digest.
test_image_wrong_diff_id() {
	img_require_python
	img_py oci "$WORK/oci" >/dev/null
	python3 - "$WORK/oci" <<'PY'
import hashlib, json, os, sys
out = sys.argv[1]
blobs = os.path.join(out, 'blobs', 'sha256')
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), 'wb').write(data)
    return 'sha256:' + d, len(data)
idx = json.load(open(os.path.join(out, 'index.json')))
m = json.load(open(os.path.join(blobs, idx['manifests'][0]['digest'][7:])))
cfg = json.load(open(os.path.join(blobs, m['config']['digest'][7:])))
cfg['rootfs']['diff_ids'][1] = 'sha256:' + '13' * 32
m['config']['digest'], m['config']['size'] = put(json.dumps(cfg).encode())
idx['manifests'][0]['digest'], idx['manifests'][0]['size'] = put(json.dumps(m).encode())
json.dump(idx, open(os.path.join(out, 'index.json'), 'w'))
PY
	expect_failure img_cvol image import "$WORK/oci"
	assert_one_line "$out" "import with a wrong diff_id"
	assert_contains "$out" "uncompressed does not match its digest sha256:1313" "import with a wrong diff_id"
	assert_eq "" "$(img_layer_ids)" "layers listed after the refused import"
}

# An image tar of 200,000 empty members with 200-byte names (100 MB; before the bound, the
# import took 198 MiB to hold their names, then failed): refused quickly, in one line naming
# the image, with a peak RSS far under the 64 MiB cap of what an image tar may keep in memory.
# The members are ustar headers: one made by tarfile, its name and checksum changed for each.
test_image_tar_many_members() {
	img_require_python
	[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed (package time)"
	python3 - "$WORK/many.tar" <<'PY'
import sys, tarfile
ti = tarfile.TarInfo('d' * 150 + '/' + '0' * 49)
ti.mtime = 1700000000
tpl = bytearray(ti.tobuf(tarfile.USTAR_FORMAT))
assert len(tpl) == 512 and tpl[:49] == b'0' * 49  # the name after the 150-byte prefix
tpl[148:156] = b' ' * 8
base = sum(tpl) - 49 * ord('0')
with open(sys.argv[1], 'wb') as f:
    out = []
    for i in range(200000):
        h, name = tpl[:], b'%049d' % i
        h[:49] = name
        h[148:156] = b'%06o\0 ' % (base + sum(name))
        out.append(h)
        if len(out) == 4096:
            f.write(b''.join(out))
            out = []
    f.write(b''.join(out) + b'\0' * 1024)
PY
	local t0 t1 ms kib base
	# what the binary itself takes (more under ASan): the bound is on what the import adds
	/usr/bin/time -o "$WORK/rss0" -f %M "$CVOL" --root "$WORK/root" layer ls >/dev/null
	base=$(tail -n 1 "$WORK/rss0")
	t0=$(date +%s%N)
	expect_failure /usr/bin/time -o "$WORK/rss" -f %M "$CVOL" --root "$WORK/root" image import "$WORK/many.tar"
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	kib=$(tail -n 1 "$WORK/rss")
	echo "refused in $ms ms, max RSS $kib KiB"
	assert_one_line "$out" "import of 200,000 empty members"
	assert_eq "cvol: import image \`$WORK/many.tar\`: the image tar holds over 10000 members" "$out" \
		"import of 200,000 empty members"
	# 16 MiB over the binary's own; under ASan (make check-asan), whose redzones and quarantine
	# keep freed memory, the 64 MiB cap itself (before the bound, the import took 198 MiB)
	local bound=$((base + 16384))
	[ -z "${ASAN_OPTIONS:-}" ] || bound=$((base + 65536))
	[ "$kib" -lt "$bound" ] || fail "the refused import took $kib KiB (max RSS; $base KiB to list layers)"
	[ "$ms" -lt 3000 ] || fail "the refused import took $ms ms"
	assert_eq "" "$(img_layer_ids)" "layers listed after the refused import"
}

# An OCI layout whose index.json leads through 1,000 nested indexes (40,000 crashed the
# import, which followed them by recursion): refused with one line, as a directory and a tar.
test_image_oci_nested_indexes() {
	img_require_python
	img_py oci "$WORK/oci" >/dev/null
	python3 - "$WORK/oci" <<'PY'
import hashlib, json, os, sys
out = sys.argv[1]
with open(os.path.join(out, 'index.json'), 'rb') as f:
    inner = f.read()
for _ in range(1000):
    d = hashlib.sha256(inner).hexdigest()
    with open(os.path.join(out, 'blobs', 'sha256', d), 'wb') as f:
        f.write(inner)
    inner = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.index.v1+json',
                        'manifests': [{'mediaType': 'application/vnd.oci.image.index.v1+json',
                                       'digest': 'sha256:' + d, 'size': len(inner)}]}).encode()
with open(os.path.join(out, 'index.json'), 'wb') as f:
    f.write(inner)
PY
	tar -C "$WORK/oci" -cf "$WORK/oci.tar" .
	local what
	for what in oci oci.tar; do
		expect_failure img_cvol image import "$WORK/$what"
		assert_eq "cvol: import image \`$WORK/$what\`: index.json nests indexes over 8 deep" "$out" \
			"import of $what with 1,000 nested indexes"
		assert_eq "" "$(img_layer_ids)" "layers listed after the refused import of $what"
		assert_eq "" "$(img_staging)" ".staging after the refused import of $what"
	done
}
