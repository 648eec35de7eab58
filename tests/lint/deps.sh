#!/bin/bash
# The library's layering, checked on the built objects (nm): which file calls which.
#  - no cycles between files (a calls b and b calls a, or longer loops);
#  - no arrow upward between folders: a folder may call only the folders below it.
# Usage: deps.sh BUILD_DIR   (the objects of `make`, e.g. build/)
set -euo pipefail
build=${1:-build}

# Folder -> the folders it may call (itself included).
declare -A allowed=(
	[common]="common"
	[overlay]="overlay common"
	[layers]="layers overlay common"
	[image]="image layers overlay common"
	[volumes]="volumes common"
	[runtime]="runtime common"
	[plugin]="plugin volumes common"
	[rpc]="rpc common"
	[snapshotter]="snapshotter rpc layers overlay common"
)

objs=()
for dir in "${!allowed[@]}"; do
	for o in "$build/$dir"/*.o; do [ -e "$o" ] && objs+=("$o"); done
done
[ ${#objs[@]} -gt 0 ] || { echo "deps: no objects under $build; run make first" >&2; exit 2; }

# symbol -> the file that defines it
declare -A home
for o in "${objs[@]}"; do
	f=${o#"$build"/}
	f=${f%.o}
	while read -r _ sym; do home[$sym]=$f; done < <(nm --defined-only -g "$o" | awk '$2 ~ /[TDBR]/ { print $2, $3 }')
done

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
bad=0
for o in "${objs[@]}"; do
	f=${o#"$build"/}
	f=${f%.o}
	for sym in $(nm --undefined-only "$o" | awk '{ print $2 }'); do
		to=${home[$sym]:-}
		[ -n "$to" ] && [ "$to" != "$f" ] || continue
		echo "$f $to" >>"$edges"
		from_dir=${f%%/*} to_dir=${to%%/*}
		case " ${allowed[$from_dir]} " in
		*" $to_dir "*) ;;
		*)
			echo "deps: $f calls $to ($sym): $from_dir/ may not call $to_dir/"
			bad=1
			;;
		esac
	done
done
# tsort reports the files of any loop on stderr.
cycles=$(sort -u "$edges" | tsort 2>&1 >/dev/null | grep -v '^tsort: -: input contains a loop:' || true)
if [ -n "$cycles" ]; then
	echo "deps: files that call each other in a loop:"
	echo "$cycles" | sed 's/^tsort: /  /'
	bad=1
fi
[ $bad -eq 0 ] && echo "deps: $(sort -u "$edges" | wc -l) arrows between $(echo "${objs[@]}" | wc -w) files, no loop, none upward"
exit $bad
