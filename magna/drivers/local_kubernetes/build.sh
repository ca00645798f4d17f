#!/usr/bin/env bash
# Builds Kubernetes server binaries from Debian 12's `kubernetes` source package, offline, into
# a host-wide cache keyed by version:
#
#   build.sh CACHE_DIR VERSION
#
#   CACHE_DIR/VERSION/bin/        kube-apiserver kube-controller-manager kube-scheduler kubelet
#                                 kube-proxy kubectl pause
#   CACHE_DIR/VERSION/BUILT       what was built from which Debian source, with checksums
#   CACHE_DIR/VERSION.progress    "<step>/<steps> <what>", rewritten at every step
#   CACHE_DIR/VERSION.log         everything the build printed
#
# Only one build runs on a host at a time (flock on CACHE_DIR/build.lock); a second caller waits,
# then finds the result. A caller that already holds the lock passes it as fd 9 with
# MAGNA_BUILD_LOCK_HELD=9. The result appears atomically (renamed into place once checked), so a
# reader never sees half a build. Debian ships only kubectl from this source; the server
# binaries are ours to build. Debian's source is patched by Debian (CVE fixes); we replace one
# vendored library, github.com/modern-go/reflect2 1.0.1, with Debian's 1.0.2: the old one
# makes every JSON encoding of a map panic under Go >= 1.18 (the API server, kubectl).
set -euo pipefail

CACHE=${1:?cache dir}
VERSION=${2:?version, e.g. 1.20.2}
GO_VERSION=1.19
STEPS=7
PROGRESS="$CACHE/$VERSION.progress"
LOG="$CACHE/$VERSION.log"
WORK="$CACHE/work-$VERSION"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2

mkdir -p "$CACHE"
if [ "${MAGNA_BUILD_LOCK_HELD:-}" != 9 ]; then
    exec 9>"$CACHE/build.lock"
fi
# NOTE: Magna's Binaries.start_build takes the lock itself and hands it over on fd 9 (flock
# then succeeds at once on the same open file), so no second build can start between its
# "none runs" and this line.
flock 9
if [ -f "$CACHE/$VERSION/BUILT" ]; then
    exit 0  # another build finished while we waited for the lock
fi
exec >"$LOG" 2>&1

step() {  # number, text
    echo "== step $1/$STEPS: $2 ($(date -u +%H:%M:%S))"
    printf '%s/%s %s\n' "$1" "$STEPS" "$2" >"$PROGRESS.tmp"
    mv "$PROGRESS.tmp" "$PROGRESS"
}

fail() {
    printf 'failed %s\n' "$1" >"$PROGRESS"
    echo "build failed: $1"
    exit 1
}
trap 'fail "at line $LINENO (see $LOG)"' ERR

step 1 "installing the build tools from Debian (golang-$GO_VERSION, reflect2, gcc)"
need=()
for pkg in "golang-$GO_VERSION-go" golang-github-modern-go-reflect2-dev dpkg-dev gcc libc6-dev make rsync; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends "${need[@]}"; }
fi
[ -d "$REFLECT2" ] || fail "Debian's reflect2 sources are not at $REFLECT2"

step 2 "fetching Debian's kubernetes source package"
rm -rf "$WORK"
mkdir -p "$WORK/download"
cd "$WORK/download"
if ! apt-get source --download-only kubernetes; then
    # The source index needs deb-src lines beside the binary ones.
    cat >/etc/apt/sources.list.d/magna-deb-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update
    apt-get source --download-only kubernetes
fi
dsc=$(ls ./*.dsc)
debian_version=$(sed -n 's/^Version: //p' "$dsc")
upstream=${debian_version%%-*}
upstream=${upstream##*really}
[ "$upstream" = "$VERSION" ] \
    || fail "Debian's kubernetes source is $upstream ($debian_version), not $VERSION"

step 3 "unpacking the source with Debian's patches"
dpkg-source -x "$dsc" "$WORK/src"
cd "$WORK/src"
vendored=vendor/github.com/modern-go/reflect2
rm -rf "$vendored"
mkdir -p "$vendored"
cp -a "$REFLECT2"/. "$vendored"/
rm -f "$vendored/go.mod"

step 4 "compiling ${BINARIES[*]} (7 to 15 minutes on 2 cores)"
export PATH="/usr/lib/go-$GO_VERSION/bin:$PATH"
export GOFLAGS=-mod=vendor GOPROXY=off GO111MODULE=on
export CGO_ENABLED=0 HOME="$WORK/home" GOPATH="$WORK/gopath"
mkdir -p "$HOME" "$GOPATH"
make WHAT="$(printf 'cmd/%s ' "${BINARIES[@]}")"

step 5 "compiling the pause container's program"
mkdir -p "$WORK/out/bin"
for bin in "${BINARIES[@]}"; do
    cp "_output/bin/$bin" "$WORK/out/bin/$bin"
done
gcc -Os -static -DVERSION="v$VERSION-magna" -o "$WORK/out/bin/pause" build/pause/linux/pause.c
strip "$WORK/out/bin/pause"

step 6 "checking the binaries"
for bin in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    said=$("$WORK/out/bin/$bin" --version)
    [[ $said == *"v$VERSION"* ]] || fail "$bin says $said, not v$VERSION"
done
said=$("$WORK/out/bin/kubectl" version --client)
[[ $said == *"v$VERSION"* ]] || fail "kubectl says $said, not v$VERSION"
# The reflect2 fault shows when a map is encoded as JSON: a labelled object does that.
said=$("$WORK/out/bin/kubectl" create configmap probe --from-literal=key=value \
    --dry-run=client -o json)
[[ $said == *'"key": "value"'* ]] || fail "kubectl cannot encode a map as JSON"

step 7 "installing into $CACHE/$VERSION"
{
    echo "version: $VERSION"
    echo "debian_source: kubernetes $debian_version"
    echo "go: $(go version)"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    (cd "$WORK/out/bin" && sha256sum ./*)
} >"$WORK/out/BUILT"
rm -rf "$CACHE/$VERSION"
mv "$WORK/out" "$CACHE/$VERSION"
rm -rf "$WORK"
printf 'done\n' >"$PROGRESS"
echo "== built Kubernetes $VERSION into $CACHE/$VERSION"
