#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Compiles libcrypto's secret-memory allocator into the jar's resources:
#   build-heap.sh SOURCE.c OUTPUT-DIR  ->  OUTPUT-DIR/linux-ARCH/libxpfo-crypto-heap.so
# ARCH as dev.xpfo.crypto.heap.HeapLibrary names it (x86_64, aarch64).
set -eu
source_file=$1
output_dir=$2
if ! command -v cc >/dev/null 2>&1; then
    echo "xpfo-crypto: building needs a C compiler: 'cc' is not on the PATH (install gcc or clang, e.g. apt-get install gcc)" >&2
    exit 1
fi
case "$(uname -m)" in
    x86_64|amd64) arch=x86_64 ;;
    aarch64|arm64) arch=aarch64 ;;
    *) echo "xpfo-crypto: no build of the crypto heap for $(uname -m) (x86_64 and aarch64 only)" >&2; exit 1 ;;
esac
mkdir -p "$output_dir/linux-$arch"
cc -shared -fPIC -O2 -Wall -Wextra -Werror -pthread -o "$output_dir/linux-$arch/libxpfo-crypto-heap.so" "$source_file"
