#!/usr/bin/env bash
# Install LLVM's OpenMP runtime (libomp) for both macOS wheel architectures, built for the deployment
# targets the wheels declare (10.13 for x86_64, 11.0 for arm64), from conda-forge's llvm-openmp packages.
# cibuildwheel runs it once per macOS job (before-all); the overrides in pyproject.toml point the
# compiler at /usr/local/opt/fastbp-omp/<arch>. Not run by .ci/run (Linux only).
set -euo pipefail
PREFIX=/usr/local/opt/fastbp-omp
VERSION=18.1.8
host=$([ "$(uname -m)" = arm64 ] && echo osx-arm64 || echo osx-64)
curl -fsSL "https://micro.mamba.pm/api/micromamba/$host/latest" | tar -xj -C /tmp bin/micromamba
for arch in x86_64 arm64; do
    platform=$([ "$arch" = x86_64 ] && echo osx-64 || echo osx-arm64)
    sudo mkdir -p "$PREFIX/$arch"
    sudo /tmp/bin/micromamba create --yes --root-prefix /tmp/mamba --prefix "$PREFIX/$arch" \
        --platform "$platform" --channel conda-forge "llvm-openmp=$VERSION"
done
