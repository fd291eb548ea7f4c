#!/bin/sh
# Assembles the root filesystem of the regway image in OUT/rootfs (default .tmp/image), for
# deploy/Containerfile (FROM scratch): no base image is pulled, so it builds offline.
#   - node: this machine's /usr/bin/node (Node 20) and exactly the shared libraries ldd lists;
#   - regway: dist/ compiled from src/ by tsc, package.json, and the production node_modules
#     (npm ls --omit=dev), copied from the checkout's node_modules (no registry access needed);
#   - /etc/passwd and /etc/group with the unprivileged user 65532 (nonroot), /tmp, the CA bundle.
# Usage: deploy/build-rootfs.sh [OUT]   then   buildah bud -f deploy/Containerfile OUT
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/.tmp/image}
NODE=${NODE:-$(command -v node)}
NODE=$(readlink -f "$NODE")
R="$OUT/rootfs"
rm -rf "$OUT"
mkdir -p "$R/usr/bin" "$R/opt/regway" "$R/etc/ssl/certs" "$R/tmp" "$R/var/lib" "$OUT/cache"
# The cache directory is copied separately with --chown (see the Containerfile); COPY of an empty
# directory would not carry it, hence the marker file.
: > "$OUT/cache/.regway-cache"
chmod 1777 "$R/tmp"

# 1. node and its shared libraries (paths as the dynamic loader resolves them).
cp "$NODE" "$R/usr/bin/node"
ldd "$NODE" | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}' | while read -r lib; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done

# 2. regway: compiled code and production dependencies.
cd "$ROOT"
npx --no-install tsc -p tsconfig.build.json --outDir "$R/opt/regway/dist"
cp package.json "$R/opt/regway/"
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
  rel=${dir#"$ROOT"/}
  mkdir -p "$R/opt/regway/$rel"
  # Copy the package's own files; nested node_modules are listed (and copied) on their own lines.
  (cd "$dir" && find . -mindepth 1 -maxdepth 1 ! -name node_modules -exec cp -a {} "$R/opt/regway/$rel/" \;)
done

# 3. users, CA bundle.
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$R/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$R/etc/group"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"; fi
echo "rootfs: $R ($(du -sh "$R" | cut -f1))"
