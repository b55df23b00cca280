#!/usr/bin/env bash
# Installs every Debian package dase needs to build, run and test. Idempotent: it only calls
# apt-get when a package is missing, so `make up` and `make test` can run it every time.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libargon2-dev libsqlite3-dev libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev
  libisal-dev libzstd-dev libxxhash-dev liblmdb-dev
  python3 python3-requests python3-pytest python3-boto3 curl procps s3cmd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  # A fresh machine may have empty package lists: refresh them once and retry.
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
