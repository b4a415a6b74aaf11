#!/bin/sh
# deb/build.sh: build the Debian package into build/ ("make deb", from the
# repository root). The source tree (the files git tracks or would track)
# and deb/debian are copied to build/deb/kinesis-keeper-VERSION and built
# there with "dpkg-buildpackage -us -uc -b", so the work tree never sees
# build output; the .deb, .changes and .buildinfo end up in build/.
# Missing tools and build dependencies are installed with apt-get when run
# as root.
#
# Environment:
#   KK_DEB_LINTIAN=0    do not run lintian after the build
#   DEB_BUILD_OPTIONS   passed on (e.g. nocheck, parallel=2)

set -eu
cd "$(dirname "$0")/.."

say() { echo "deb/build.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# tools: dpkg-buildpackage (dpkg-dev), dh (debhelper), lintian; fakeroot
# only for a "Rules-Requires-Root: yes" some day
need=""
command -v dpkg-buildpackage >/dev/null 2>&1 || need="$need dpkg-dev"
command -v dh >/dev/null 2>&1 || need="$need debhelper"
command -v fakeroot >/dev/null 2>&1 || need="$need fakeroot"
if [ "${KK_DEB_LINTIAN:-1}" != 0 ]; then
	command -v lintian >/dev/null 2>&1 || need="$need lintian"
fi
updated=0
apt_install() {
	[ "$(id -u)" -eq 0 ] || die "missing:$*; install them (as root)"
	if [ "$updated" -eq 0 ]; then
		apt-get update -qq || die "apt-get update failed"
		updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "$@" >/dev/null ||
	    die "apt-get install $* failed"
}
if [ -n "$need" ]; then
	say "installing:$need"
	apt_install $need
fi

version=$(dpkg-parsechangelog -l deb/debian/changelog -S Version)
upstream=${version%-*}
work=build/deb
src=$work/kinesis-keeper-$upstream

rm -rf "$work"
mkdir -p "$src"
# the tree as git sees it, untracked new files included, ignored ones
# (build output, node_modules) and deleted ones left out
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files --cached --others --exclude-standard |
	    while IFS= read -r f; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			printf '%s\n' "$f"
		fi
	    done | sort -u >"$work/files"
	tar -cf - -T "$work/files" | tar -xf - -C "$src"
else
	tar -cf - --exclude=./build --exclude=./.git --exclude=node_modules . |
	    tar -xf - -C "$src"
fi
rm -rf "$src/deb" "$src/debian"
cp -R deb/debian "$src/debian"

# build dependencies from debian/control
if ! (cd "$src" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
	say "installing the build dependencies"
	[ "$(id -u)" -eq 0 ] || (cd "$src" && dpkg-checkbuilddeps) ||
	    die "missing build dependencies"
	if [ "$updated" -eq 0 ]; then
		apt-get update -qq || die "apt-get update failed"
		updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq "./$src" \
	    >/dev/null || die "apt-get build-dep failed"
fi

say "building kinesis-keeper $version in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b) || die "dpkg-buildpackage failed"

rm -f build/kinesis-keeper_*.deb build/kinesis-keeper-dbgsym_*.deb \
    build/kinesis-keeper_*.changes build/kinesis-keeper_*.buildinfo
for f in "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo; do
	[ -e "$f" ] && mv "$f" build/
done
rm -rf "$src" "$work/files"
deb=$(ls build/kinesis-keeper_"$version"_*.deb)
say "built $deb"

if [ "${KK_DEB_LINTIAN:-1}" != 0 ]; then
	# errors fail the build; warnings are shown
	lintian --fail-on error "$deb" || die "lintian found errors"
fi
