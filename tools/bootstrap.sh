#!/usr/bin/env bash
# bootstrap.sh: install what is missing on Debian, build, then run the hub or the tests.
#
#   tools/bootstrap.sh run    build (RelWithDebInfo) and start benang-hub on config/hub.yaml
#   tools/bootstrap.sh test   build warnings-as-errors, run ctest; the same under ASan+UBSan;
#                             then a short libFuzzer run of every fuzz target
#
# Safe to run again: apt-get only installs what is missing, builds are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
      liblmdb-dev lmdb-utils libyaml-dev libjansson-dev libyajl-dev libsodium-dev
      python3 python3-zmq python3-protobuf protobuf-compiler clang libclang-rt-dev)

install_deps() {
    local missing=()
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "bootstrap: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

jobs=$(nproc 2>/dev/null || echo 2)

build() { # dir, build type, extra cmake args...
    local dir=$1 type=$2
    shift 2
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
}

case "${1:-}" in
run)
    install_deps
    build build RelWithDebInfo
    exec ./build/benang-hub --config config/hub.yaml
    ;;
test)
    install_deps
    build build RelWithDebInfo -DBN_WERROR=ON
    (cd build && ctest --output-on-failure -j2 --timeout 600)
    build build-asan Asan -DBN_WERROR=ON
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --output-on-failure -j2 --timeout 900)
    # libFuzzer smoke: 15 s per target from the seed corpora (long runs: docs/fuzzing.md).
    CC=clang cmake -S . -B build-fuzz -DBN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build-fuzz -j"$jobs" --target fuzz_all
    (cd build-fuzz && ctest -L fuzz --output-on-failure -j2)
    ;;
*)
    echo "usage: tools/bootstrap.sh run|test" >&2
    exit 2
    ;;
esac
