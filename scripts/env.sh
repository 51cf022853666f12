# Sourced by the build scripts: compiler caching that works with precompiled headers.
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
GPM_BUILD_DIR="${GPM_BUILD_DIR:-build}"
configure() {
  cmake -S . -B "$GPM_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
}
