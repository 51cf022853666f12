// Whole files: read at once, and written atomically. An atomic write fills a temporary file beside
// the target and renames it over the target, so that a process stopped at any moment (a crash, a
// kill -9, a full disk) leaves at the target either the file that was there or the complete new one,
// never a part of one. Samples, data, snapshots, checkpoints and figures are written this way.
#pragma once

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "gpm/core/errors.hpp"

namespace gpm::io {

/// The temporary file that an atomic write of `path` fills first: `path` + ".tmp", beside it (a
/// rename is atomic only within one file system).
/// Example: `temporary_path("samples.csv")` is "samples.csv.tmp".
inline std::filesystem::path temporary_path(const std::filesystem::path& path) { return path.string() + ".tmp"; }

/// Writes `contents` to `path` atomically: to temporary_path(path), flushed, then renamed over
/// `path`. A failure (a missing or read-only directory, a full disk) throws gpm::RuntimeError naming
/// the file, and leaves `path` as it was and no temporary file. A process killed before the rename
/// leaves `path` untouched, and the temporary file, which the next write of `path` replaces.
/// Example: `gpm::io::write_file_atomically("samples.csv", "1,2\n");`
inline void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  const auto tmp = temporary_path(path);
  std::error_code ignored;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw RuntimeError(fmt::format("cannot write '{}' (creating '{}' failed: {}); check that its directory "
                                     "exists and is writable", path.string(), tmp.string(),
                                     std::generic_category().message(errno)));
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(tmp, ignored);
      throw RuntimeError(fmt::format("writing '{}' failed (disk full?)", tmp.string()));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ignored);
    throw RuntimeError(fmt::format("cannot rename '{}' to '{}': {}", tmp.string(), path.string(), ec.message()));
  }
}

/// Reads a whole file; a missing or unreadable file is an InvalidArgument naming it.
/// Example: `std::string text = gpm::io::read_file("run.json");`
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  GPM_CHECK(static_cast<bool>(in), "cannot read '{}': the file is missing or unreadable", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace gpm::io
