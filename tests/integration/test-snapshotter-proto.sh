# cvol's own copy of containerd's snapshot API (proto/containerd/**) against containerd's
# files, by tests/integration/proto-compare.py: package, services, rpcs (request, response,
# stream), messages with every field's type, name and number, enums with their values.
# containerd's files: $CVOL_CONTAINERD_API_DIR (its api/ dir), else build/containerd-api/api
# (`make containerd-api`: Debian's golang-github-containerd-containerd-dev, downloaded and
# unpacked, not installed).

PROTO_COMPARE="$TOP/tests/integration/proto-compare.py"
PROTO_FILES="services/snapshots/v1/snapshots.proto types/mount.proto"

proto_containerd_dir() {
	local dir=${CVOL_CONTAINERD_API_DIR:-$TOP/build/containerd-api/api} f
	command -v python3 >/dev/null || skip "python3 is not installed (make deps)"
	for f in $PROTO_FILES; do
		[ -f "$dir/$f" ] || skip "containerd's $f is not in $dir (make containerd-api, or set CVOL_CONTAINERD_API_DIR)"
	done
	printf '%s\n' "$dir"
}

test_snapshotter_proto_matches_containerd() {
	local dir f o
	dir=$(proto_containerd_dir)
	[ -n "$dir" ] || return 0 # skipped
	for f in $PROTO_FILES; do
		o=$(python3 "$PROTO_COMPARE" "$dir/$f" "$TOP/proto/containerd/$f" 2>&1) ||
			fail "proto/containerd/$f differs from containerd's: $o"
		echo "$o"
	done
}

# The comparison itself: one field number, one type, one `stream`, one enum value or one
# field name changed in a copy of cvol's file is each caught and named.
test_snapshotter_proto_compare_catches_changes() {
	command -v python3 >/dev/null || skip "python3 is not installed (make deps)"
	local ours="$TOP/proto/containerd/services/snapshots/v1/snapshots.proto" change expect
	python3 "$PROTO_COMPARE" "$ours" "$ours" >/dev/null || fail "the file compared with itself differs"
	while IFS='|' read -r change expect; do
		sed "$change" "$ours" >"$WORK/changed.proto"
		! cmp -s "$ours" "$WORK/changed.proto" || fail "sed '$change' changed nothing"
		expect_failure python3 "$PROTO_COMPARE" "$ours" "$WORK/changed.proto"
		assert_eq 1 "$rc" "exit status of proto-compare.py after sed '$change'"
		assert_contains "$out" "$expect" "proto-compare.py after sed '$change'"
	done <<'EOF'
s/int64 inodes = 2;/int64 inodes = 3;/|changed.proto: message UsageResponse field int64 inodes = 3
s/string parent = 3;/string parent = 5;/|message PrepareSnapshotRequest field string parent = 5
s/Kind kind = 3;/int32 kind = 3;/|message Info field int32 kind = 3
s/returns (stream ListSnapshotsResponse)/returns (ListSnapshotsResponse)/|rpc List(containerd.services.snapshots.v1.ListSnapshotsRequest) returns (containerd.services.snapshots.v1.ListSnapshotsResponse)
s/COMMITTED = 3;/COMMITTED = 4;/|enum Kind value COMMITTED = 4
s/string snapshotter = 1;/string snapshotters = 1;/|field string snapshotters = 1
s/repeated string filters = 2;/string filters = 2;/|message ListSnapshotsRequest field string filters = 2
EOF
}
