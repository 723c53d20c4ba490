#!/bin/sh
# Every relative link in the README and docs/ names a file of the
# repository: a clone has nothing outside it.
set -eu
repo=$1
bad=0
for doc in "$repo/README.md" "$repo"/docs/*.md; do
	dir=$(dirname "$doc")
	for target in $(grep -o '](\([^)#]*\)' "$doc" | sed 's/^](//'); do
		case $target in
		http://* | https://* | mailto:*) continue ;;
		esac
		if [ ! -e "$dir/$target" ]; then
			echo "doc links: $doc links $target, which is not in the repository"
			bad=1
		fi
		case $(realpath -m "$dir/$target") in
		"$(realpath "$repo")"/*) ;;
		*)
			echo "doc links: $doc links $target, outside the repository"
			bad=1
			;;
		esac
	done
done
[ "$bad" = 0 ] && echo "doc links: every link resolves inside the repository"
exit "$bad"
