#!/bin/bash
# Runs the integration tests (tests/integration/test-*.sh), each test in a subshell,
# all inside a private mount namespace so that no mount can leak onto the host.
# Usage: run-all.sh [PATTERN]   (PATTERN picks tests by name, e.g. "store")
set -u
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "integration: every test mounts and needs root; skipped"
	echo "integration: 0 passed, 0 failed, 1 skipped"
	exit 0
fi
if [ -z "${CVOL_TEST_NAMESPACE:-}" ]; then
	export CVOL_TEST_NAMESPACE=1
	exec unshare -m --propagation private "$0" "$@"
fi

. "$here/lib.sh"
for f in "$here"/test-*.sh; do
	. "$f"
done
mapfile -t tests < <(declare -F | awk '{ print $3 }' | grep '^test_' | grep -- "${1:-}")
run_tests "${tests[@]}"
