#!/usr/bin/python3
"""A stand-in for cvol-snapshotter, to check the harness of test-containerd.sh and
tests/bench/snapshotter.sh before the real one exists (not a test, not a product):

    CTRD_SNAP_BIN=tests/integration/fake-snapshotter.py tests/integration/run-all.sh containerd

It serves containerd.services.snapshots.v1.Snapshots on --socket like containerd's own
overlayfs snapshotter would (overlay mounts of snapshots/<id>/fs, a bind mount for one
layer), with its state in --root/meta.json, rewritten (fsync, rename) after every change,
so that kill -9 loses nothing. Messages come from the repo's proto/ (a descriptor set made
by protoc-c at start); gRPC is Debian's python3-grpcio (/usr/bin/python3). Every call is
logged on stdout. What it checks: that the tests pass against a snapshotter that does it
right, and fail against one that does not (state not reloaded, lowers reversed).
"""
import json, os, sys, shutil, threading, time, subprocess
from concurrent import futures
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

a = sys.argv
ROOT = a[a.index("--root") + 1]
SOCK = a[a.index("--socket") + 1]
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
os.makedirs(ROOT, exist_ok=True)
PB = ROOT + "/snapshots.pb"
subprocess.run(["protoc-c", "--descriptor_set_out=" + PB, "--include_imports", "-I" + TOP + "/proto",
                TOP + "/proto/containerd/services/snapshots/v1/snapshots.proto"], check=True)

fds = descriptor_pb2.FileDescriptorSet()
fds.ParseFromString(open(PB, "rb").read())
pool = descriptor_pool.DescriptorPool()
for f in fds.file:
    pool.Add(f)
fac = message_factory.MessageFactory(pool)
P = "containerd.services.snapshots.v1."
def M(name):
    return fac.GetPrototype(pool.FindMessageTypeByName(name))
Empty = M("google.protobuf.Empty")
Mount = M("containerd.types.Mount")
KIND = {"view": 1, "active": 2, "committed": 3}

os.makedirs(ROOT + "/snapshots", exist_ok=True)
META = ROOT + "/meta.json"
lock = threading.Lock()
state = json.load(open(META)) if os.path.exists(META) and not os.environ.get("FAKE_FORGET") \
    else {"next": 1, "snaps": {}}  # FAKE_FORGET=1: a restart forgets everything (a bug to catch)

def save():
    tmp = META + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush(); os.fsync(f.fileno())
    os.replace(tmp, META)

def log(*x):
    print(*x, flush=True)

class Err(Exception):
    def __init__(self, code, msg): self.code, self.msg = code, msg

def chain(key):
    out = []
    while key:
        s = state["snaps"][key]
        out.append(s["id"])
        key = s["parent"]
    return out

def d(i): return "%s/snapshots/%d" % (ROOT, i)

def mounts(key):
    s = state["snaps"][key]
    parents = chain(s["parent"]) if s["parent"] else []
    if s["kind"] == "active":
        if not parents:
            return [Mount(type="bind", source=d(s["id"]) + "/fs", options=["rw", "rbind"])]
        return [Mount(type="overlay", source="overlay", options=[
            "workdir=" + d(s["id"]) + "/work", "upperdir=" + d(s["id"]) + "/fs",
            "lowerdir=" + ":".join(d(i) + "/fs" for i in parents)])]
    if len(parents) <= 1:
        src = d(parents[0]) + "/fs" if parents else d(s["id"]) + "/fs"
        return [Mount(type="bind", source=src, options=["ro", "rbind"])]
    return [Mount(type="overlay", source="overlay", options=["lowerdir=" + ":".join(d(i) + "/fs" for i in parents)])]

def info(key):
    s = state["snaps"][key]
    I = M(P + "Info")()
    I.name, I.parent, I.kind = key, s["parent"], KIND[s["kind"]]
    I.created_at.FromNanoseconds(s["created"]); I.updated_at.FromNanoseconds(s["updated"])
    for k, v in s["labels"].items(): I.labels[k] = v
    return I

def create(req, kind):
    if req.key in state["snaps"]:
        raise Err(grpc.StatusCode.ALREADY_EXISTS, "snapshot %s: already exists" % req.key)
    if req.parent and (req.parent not in state["snaps"] or state["snaps"][req.parent]["kind"] != "committed"):
        raise Err(grpc.StatusCode.NOT_FOUND, "parent %s: not found" % req.parent)
    i = state["next"]; state["next"] += 1
    os.makedirs(d(i) + "/fs"); os.makedirs(d(i) + "/work")
    now = time.time_ns()
    state["snaps"][req.key] = {"id": i, "kind": kind, "parent": req.parent, "labels": dict(req.labels),
                               "created": now, "updated": now}
    save()
    return mounts(req.key)

def need(key):
    if key not in state["snaps"]:
        raise Err(grpc.StatusCode.NOT_FOUND, "snapshot %s: not found" % key)
    return state["snaps"][key]

def Prepare(req, ctx):
    return M(P + "PrepareSnapshotResponse")(mounts=create(req, "active"))
def View(req, ctx):
    return M(P + "ViewSnapshotResponse")(mounts=create(req, "view"))
def Mounts(req, ctx):
    need(req.key); return M(P + "MountsResponse")(mounts=mounts(req.key))
def Commit(req, ctx):
    s = need(req.key)
    if s["kind"] != "active": raise Err(grpc.StatusCode.FAILED_PRECONDITION, "not active")
    if req.name in state["snaps"]: raise Err(grpc.StatusCode.ALREADY_EXISTS, "snapshot %s: already exists" % req.name)
    del state["snaps"][req.key]
    s["kind"] = "committed"; s["labels"].update(dict(req.labels)); s["updated"] = time.time_ns()
    state["snaps"][req.name] = s
    save(); return Empty()
def Remove(req, ctx):
    s = need(req.key)
    if any(o["parent"] == req.key for o in state["snaps"].values()):
        raise Err(grpc.StatusCode.FAILED_PRECONDITION, "snapshot %s has children" % req.key)
    del state["snaps"][req.key]; save()
    shutil.rmtree(d(s["id"]), ignore_errors=True)
    return Empty()
def Stat(req, ctx):
    need(req.key); return M(P + "StatSnapshotResponse")(info=info(req.key))
def Update(req, ctx):
    s = need(req.info.name)
    paths = list(req.update_mask.paths)
    if not paths or "labels" in paths:
        s["labels"] = dict(req.info.labels)
    for p in paths:
        if p.startswith("labels."):
            k = p[len("labels."):]
            if req.info.labels.get(k): s["labels"][k] = req.info.labels[k]
            else: s["labels"].pop(k, None)
    s["updated"] = time.time_ns(); save()
    return M(P + "UpdateSnapshotResponse")(info=info(req.info.name))
def List(req, ctx):
    with lock:
        infos = [info(k) for k in state["snaps"]]
    for i in range(0, len(infos), 100):
        yield M(P + "ListSnapshotsResponse")(info=infos[i:i + 100])
def Usage(req, ctx):
    s = need(req.key)
    out = subprocess.run(["du", "-s", "-B1", "--inodes", d(s["id"]) + "/fs"], capture_output=True, text=True).stdout.split()
    size = subprocess.run(["du", "-s", "-B1", d(s["id"]) + "/fs"], capture_output=True, text=True).stdout.split()
    return M(P + "UsageResponse")(size=int(size[0]), inodes=int(out[0]))
def Cleanup(req, ctx):
    return Empty()

REQ = {"Prepare": "PrepareSnapshotRequest", "View": "ViewSnapshotRequest", "Mounts": "MountsRequest",
       "Commit": "CommitSnapshotRequest", "Remove": "RemoveSnapshotRequest", "Stat": "StatSnapshotRequest",
       "Update": "UpdateSnapshotRequest", "List": "ListSnapshotsRequest", "Usage": "UsageRequest",
       "Cleanup": "CleanupRequest"}

def wrap(name, fn):
    def h(req, ctx):
        log("rpc", name, str(req).replace("\n", " ")[:200])
        try:
            with lock:
                return fn(req, ctx)
        except Err as e:
            log("  ->", e.code, e.msg)
            ctx.abort(e.code, e.msg)
    return h

handlers = {}
for name, req in REQ.items():
    cls = M(P + req)
    fn = globals()[name]
    if name == "List":
        def lh(req, ctx, fn=fn):
            log("rpc List")
            yield from fn(req, ctx)
        handlers[name] = grpc.unary_stream_rpc_method_handler(lh, request_deserializer=cls.FromString,
                                                              response_serializer=lambda m: m.SerializeToString())
    else:
        handlers[name] = grpc.unary_unary_rpc_method_handler(wrap(name, fn), request_deserializer=cls.FromString,
                                                             response_serializer=lambda m: m.SerializeToString())
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(P + "Snapshots", handlers)])
if os.path.exists(SOCK): os.unlink(SOCK)
server.add_insecure_port("unix:" + SOCK)
server.start()
log("serving", SOCK)
server.wait_for_termination()
