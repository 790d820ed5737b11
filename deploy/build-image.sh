#!/usr/bin/env bash
# Builds the container image clearledger:dev on a machine with no image
# registry: no base image is pulled. The image is assembled from files on
# this machine and loaded with `docker import`:
#
#   /usr/local/bin/clearledger-node, /usr/local/bin/clearledger
#                      the locally built release binaries, debug info stripped
#   /lib/..., /lib64/...  exactly the shared libraries `ldd` lists for them
#   /bin/busybox       Debian's busybox-static (one static binary), for the
#                      HEALTHCHECK (`busybox wget`) and for an operator's
#                      `docker exec ... busybox sh`; no shell is linked as /bin/sh
#   /etc/passwd, /etc/group, /etc/nsswitch.conf, /etc/clearledger/node.toml
#   /var/lib/clearledger  the data volume, owned by the user clearledger (10001)
#
# The node runs as uid 10001. deploy/Dockerfile builds the same layout from
# base images where a registry is available; see docs/operations.md.
#
# Usage: deploy/build-image.sh [--tag NAME] [--no-build] [--bin-dir DIR]
#   --tag NAME     image name (default clearledger:dev)
#   --no-build     do not run cargo first; use the binaries in --bin-dir as they are
#   --bin-dir DIR  where the release binaries are
#                  (default $CARGO_TARGET_DIR/release, CARGO_TARGET_DIR
#                  defaulting to ~/.cache/clearledger/target)
set -euo pipefail
cd "$(dirname "$0")/.."

tag=clearledger:dev
build=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearledger/target}"
bin_dir="$CARGO_TARGET_DIR/release"
while [ $# -gt 0 ]; do
    case "$1" in
        --tag) tag="${2:?--tag needs a name}"; shift 2 ;;
        --no-build) build=0; shift ;;
        --bin-dir) bin_dir="${2:?--bin-dir needs a directory}"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

fail() { echo "build-image.sh: $*" >&2; exit 1; }
command -v docker >/dev/null || fail "docker is not installed"
command -v dpkg-deb >/dev/null || fail "dpkg-deb is needed (a Debian or Ubuntu machine)"

if [ "$build" = 1 ]; then
    echo "== cargo build (release; reuses $CARGO_TARGET_DIR)"
    cargo build --release --locked --workspace --all-targets
fi
node_bin="$bin_dir/clearledger-node"
cli_bin="$bin_dir/clearledger"
for binary in "$node_bin" "$cli_bin"; do
    [ -x "$binary" ] || fail "$binary does not exist (build it, or pass --bin-dir)"
done

# Debian's static busybox, downloaded once through apt and kept in a cache.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/clearledger/image"
mkdir -p "$cache"
busybox_deb="$(find "$cache" -maxdepth 1 -name 'busybox-static_*.deb' | head -n 1)"
if [ -z "$busybox_deb" ]; then
    echo "== apt-get download busybox-static (once; kept in $cache)"
    (cd "$cache" && apt-get download busybox-static) ||
        fail "cannot download busybox-static: run 'apt-get update' first"
    busybox_deb="$(find "$cache" -maxdepth 1 -name 'busybox-static_*.deb' | head -n 1)"
    [ -n "$busybox_deb" ] || fail "apt-get download left no busybox-static package in $cache"
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/rootfs"
mkdir -p "$root"/{bin,etc/clearledger,usr/local/bin,var/lib/clearledger,tmp}

echo "== rootfs: binaries (debug info stripped), their libraries, busybox"
for binary in "$node_bin" "$cli_bin"; do
    objcopy --strip-debug "$binary" "$root/usr/local/bin/$(basename "$binary")"
done
# Every library the loader resolves, and the loader itself, at the same path.
libraries="$(for binary in "$node_bin" "$cli_bin"; do ldd "$binary"; done |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)"
[ -n "$libraries" ] || fail "ldd found no libraries for $node_bin"
for library in $libraries; do
    mkdir -p "$root$(dirname "$library")"
    cp -L "$library" "$root$library"
done

dpkg-deb -x "$busybox_deb" "$stage/busybox"
if ldd "$stage/busybox/bin/busybox" >/dev/null 2>&1; then
    fail "$busybox_deb does not hold a static busybox"
fi
cp "$stage/busybox/bin/busybox" "$root/bin/busybox"
mkdir -p "$root/usr/share/doc/busybox-static"
cp "$stage/busybox/usr/share/doc/busybox-static/copyright" "$root/usr/share/doc/busybox-static/"

cp deploy/image/passwd "$root/etc/passwd"
cp deploy/image/group "$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
cp deploy/image/node.toml "$root/etc/clearledger/node.toml"
chmod -R u=rwX,go=rX "$root"
chmod 1777 "$root/tmp"
chown -R 0:0 "$root"
chown 10001:10001 "$root/var/lib/clearledger"
chmod 0750 "$root/var/lib/clearledger"

version="$("$node_bin" --version | awk '{ print $2 }')"
revision="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
echo "== docker import $tag (clearledger-node $version, revision $revision)"
tar --numeric-owner -C "$root" -c . | docker import \
    --change 'USER 10001:10001' \
    --change 'WORKDIR /var/lib/clearledger' \
    --change 'VOLUME /var/lib/clearledger' \
    --change 'EXPOSE 8080' \
    --change 'HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]' \
    --change 'ENTRYPOINT ["/usr/local/bin/clearledger-node"]' \
    --change 'CMD ["run", "--config", "/etc/clearledger/node.toml"]' \
    --change "LABEL org.opencontainers.image.title=clearledger-node org.opencontainers.image.version=$version org.opencontainers.image.revision=$revision" \
    - "$tag" >/dev/null

# The image must run its binaries: a missing library fails here, not in a cluster.
docker run --rm "$tag" --version >/dev/null || fail "the image cannot run clearledger-node"
docker run --rm --entrypoint /usr/local/bin/clearledger "$tag" --version >/dev/null ||
    fail "the image cannot run clearledger"
echo "built $tag: $(docker image inspect "$tag" --format '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }')"
