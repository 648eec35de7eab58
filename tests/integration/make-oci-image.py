#!/usr/bin/env python3
"""Build an OCI image archive (the tar `ctr image import` reads), offline, from busybox.

    make-oci-image.py [--gzip] [--busybox PATH] OUT.tar NAME:TAG NLAYERS
    make-oci-image.py [--gzip] [--busybox PATH] --whiteouts OUT.tar NAME:TAG

Layer 1 is busybox at /bin/busybox with a symlink per applet in /bin (sh, cat, ls,
find, ...), and /tmp. With NLAYERS, layers 2..N each add /layers/<i> holding
"layer <i>". With --whiteouts, layers 2..5 delete, make opaque and re-add files (see
WHITEOUT_LAYERS; the test that uses them states what a container must see).

The archive: oci-layout, index.json (one manifest, annotated with
org.opencontainers.image.ref.name = TAG and io.containerd.image.name = NAME:TAG),
blobs/sha256/ holding the manifest, the config (its rootfs.diff_ids the sha256 of
each uncompressed layer tar) and the layers (plain tar, or gzip with --gzip). Every
timestamp is fixed, so the same arguments give the same digests. Written without
recursion and in one pass per layer: 500 layers take well under a second.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
        "s390x": "s390x", "riscv64": "riscv64"}  # uname -m -> GOARCH, what containerd matches
MTIME = 1700000000  # fixed: the same image, the same digests

# What the whiteout image's layers 2..5 hold, in tar order: (path, kind, content)
# kind: "dir", "file" (content), "wh" (a whiteout: the entry's name is .wh.<name>),
# "opq" (the dir's .wh..wh..opq). Layer 1 is busybox plus WHITEOUT_BASE.
WHITEOUT_BASE = [
    ("d", "dir", None),
    ("d/a", "file", "a1"),
    ("d/b", "file", "b1"),
    ("d/sub", "dir", None),
    ("d/sub/x", "file", "x1"),
    ("e", "dir", None),
    ("e/keep", "file", "keep1"),
    ("e/deep", "dir", None),
    ("e/deep/y", "file", "y1"),
    ("f1", "file", "f1-v1"),
    ("f2", "file", "f2-v1"),
    ("g", "dir", None),
    ("g/old", "file", "old1"),
]
WHITEOUT_LAYERS = [
    [  # layer 2: delete a file at the top and one in a dir, make e opaque with one new file
        (".wh.f1", "wh", None),
        ("d", "dir", None),
        ("d/.wh.a", "wh", None),
        ("e", "dir", None),
        ("e/.wh..wh..opq", "opq", None),
        ("e/new", "file", "new2"),
    ],
    [  # layer 3: f1 back with new content, a whole dir deleted, a file added next to it
        ("f1", "file", "f1-v3"),
        ("d", "dir", None),
        ("d/.wh.sub", "wh", None),
        ("d/c", "file", "c3"),
        ("h", "dir", None),
        ("h/h1", "file", "h1-3"),
    ],
    [  # layer 4: the dir g replaced by a file, d/b replaced by a dir, h made opaque and emptied
        (".wh.g", "wh", None),
        ("g", "file", "g-is-a-file"),
        ("d", "dir", None),
        ("d/.wh.b", "wh", None),
        ("d/b", "dir", None),
        ("d/b/inner", "file", "inner4"),
        ("h", "dir", None),
        ("h/.wh..wh..opq", "opq", None),
    ],
    [  # layer 5: sub comes back (without its old x), f2 deleted, a new file in opaque e
        ("d", "dir", None),
        ("d/sub", "dir", None),
        ("d/sub/z", "file", "z5"),
        (".wh.f2", "wh", None),
        ("e", "dir", None),
        ("e/later", "file", "later5"),
    ],
]


class Layer:
    """One layer tar built in memory."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name, kind, mode):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.mtime = MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    def dir(self, name, mode=0o755):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode))

    def file(self, name, data, mode=0o644):
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)

    def close(self):
        self.tar.close()
        return self.buf.getvalue()


def busybox_layer(busybox):
    with open(busybox, "rb") as f:
        data = f.read()
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    layer = Layer()
    layer.dir("bin")
    layer.file("bin/busybox", data, 0o755)
    for a in sorted(set(applets)):
        if a != "busybox" and "/" not in a:
            layer.symlink("bin/" + a, "busybox")
    layer.dir("tmp", 0o1777)
    layer.dir("etc")
    layer.file("etc/passwd", b"root:x:0:0:root:/:/bin/sh\n")
    layer.file("etc/group", b"root:x:0:\n")
    return layer


def add_entries(layer, entries):
    for path, kind, content in entries:
        if kind == "dir":
            layer.dir(path)
        elif kind == "file":
            layer.file(path, content.encode())
        elif kind in ("wh", "opq"):
            layer.file(path, b"", 0o644)
        else:
            raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gzip", action="store_true", help="gzip the layers")
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--whiteouts", action="store_true", help="the whiteout/opaque image (5 layers)")
    ap.add_argument("out")
    ap.add_argument("name", help="NAME:TAG")
    ap.add_argument("nlayers", type=int, nargs="?")
    a = ap.parse_args()
    if a.whiteouts == (a.nlayers is not None):
        ap.error("give NLAYERS, or --whiteouts without it")
    if not a.whiteouts and a.nlayers < 1:
        ap.error("NLAYERS must be at least 1")
    tag = a.name.rsplit(":", 1)[1] if ":" in a.name.rsplit("/", 1)[-1] else "latest"

    tars = []
    first = busybox_layer(a.busybox)
    if a.whiteouts:
        add_entries(first, WHITEOUT_BASE)
        tars.append(first.close())
        for entries in WHITEOUT_LAYERS:
            layer = Layer()
            add_entries(layer, entries)
            tars.append(layer.close())
    else:
        tars.append(first.close())
        for i in range(2, a.nlayers + 1):
            layer = Layer()
            layer.dir("layers")
            layer.file("layers/%d" % i, b"layer %d\n" % i)
            tars.append(layer.close())

    blobs = {}  # digest -> bytes

    def blob(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return d

    diff_ids, layer_descs = [], []
    media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if a.gzip else "")
    for t in tars:
        diff_ids.append("sha256:" + hashlib.sha256(t).hexdigest())
        data = gzip.compress(t, compresslevel=1, mtime=0) if a.gzip else t
        layer_descs.append({"mediaType": media, "digest": blob(data), "size": len(data)})

    created = "2023-11-14T22:13:20Z"
    config = {
        "created": created,
        "architecture": os.environ.get("CVOL_IMAGE_ARCH") or ARCH.get(os.uname().machine, os.uname().machine),
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": "make-oci-image.py layer %d" % (i + 1)}
                    for i in range(len(tars))],
    }
    cfg = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(cfg), "size": len(cfg)},
        "layers": layer_descs,
    }
    man = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    man_digest = blob(man)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": man_digest,
            "size": len(man),
            "platform": {"architecture": config["architecture"], "os": "linux"},
            "annotations": {
                "io.containerd.image.name": a.name,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    }

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
        def put(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            ti.mtime = MTIME
            out.addfile(ti, io.BytesIO(data))

        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", json.dumps(index, sort_keys=True).encode())
        for d in sorted(blobs):
            put("blobs/sha256/" + d.split(":", 1)[1], blobs[d])
    os.replace(tmp, a.out)
    print(man_digest)


if __name__ == "__main__":
    sys.exit(main())
