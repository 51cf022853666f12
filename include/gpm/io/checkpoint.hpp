// Saving and loading checkpoints (modules, optimisers, whole models) as files. Every write goes to a
// temporary file that is flushed and renamed, so a crash never leaves a half-written file behind.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "gpm/core/capabilities.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/io/state.hpp"

namespace gpm::io {

/// The first line of an exception message (LibTorch appends a backtrace).
inline std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }

/// Writes `contents` to `path` atomically: a temporary file beside it, flushed, then renamed over it.
inline void write_file_atomically(const std::filesystem::path& path, const std::string& contents) {
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw RuntimeError(fmt::format("cannot write '{}': check that the directory exists and is writable", tmp.string()));
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) throw RuntimeError(fmt::format("writing '{}' failed (disk full?)", tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw RuntimeError(fmt::format("cannot rename '{}' to '{}': {}", tmp.string(), path.string(), ec.message()));
}

/// Reads a whole file; a missing or unreadable file is an InvalidArgument naming it.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  GPM_CHECK(static_cast<bool>(in), "cannot read '{}': the file is missing or unreadable", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Saves `object` (a module, an optimiser, or any gpm::Checkpointable) to `path` atomically.
/// Example: `gpm::io::save(model, dir / "model.pt");`
template <Checkpointable T>
void save(const T& object, const std::filesystem::path& path) {
  torch::serialize::OutputArchive archive;
  object.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomically(path, bytes.str());
}

/// Reads the archive in `bytes`, the contents of the file `path`, which errors name. Truncated,
/// corrupted or foreign contents are an InvalidArgument naming the file.
inline void load_archive_bytes(torch::serialize::InputArchive& archive, const std::string& bytes,
                               const std::filesystem::path& path) {
  try {
    std::istringstream in(bytes);
    archive.load_from(in);
  } catch (const std::exception& e) {
    throw InvalidArgument(fmt::format("cannot load '{}': the file is truncated, corrupted or not a gpm checkpoint "
                                      "({})", path.string(), first_line(e.what())));
  }
}

/// Reads the archive in `path`. A missing, truncated, corrupted or foreign file is an InvalidArgument
/// naming the file.
inline void load_archive(torch::serialize::InputArchive& archive, const std::filesystem::path& path) {
  load_archive_bytes(archive, read_file(path), path);
}

/// `load` from `bytes`, the contents of the file `path` that the caller has already read (to check
/// them, say), without reading it again.
/// Example: `gpm::io::load_bytes(model, verified_bytes, dir / "model.pt");`
template <Checkpointable T>
void load_bytes(T& object, const std::string& bytes, const std::filesystem::path& path) {
  torch::serialize::InputArchive archive;
  load_archive_bytes(archive, bytes, path);
  // All or nothing: a load refused part-way restores what it had already overwritten.
  std::stringstream before;
  {
    torch::serialize::OutputArchive backup;
    object.save(backup);
    backup.save_to(before);
  }
  try {
    object.load(archive);
  } catch (const std::exception& e) {
    torch::serialize::InputArchive backup;
    backup.load_from(before);
    object.load(backup);
    throw InvalidArgument(fmt::format("cannot load '{}': it was written for a different model or configuration ({})",
                                      path.string(), first_line(e.what())));
  }
}

/// Loads what `save` wrote into `object`, which must have the same structure. A missing, truncated,
/// corrupted or foreign file is an InvalidArgument naming the file and the problem, and leaves
/// `object` as it was.
/// Example: `gpm::io::load(model, dir / "model.pt");`
template <Checkpointable T>
void load(T& object, const std::filesystem::path& path) {
  load_bytes(object, read_file(path), path);
}

}  // namespace gpm::io
