// Saving and loading checkpoints (modules, optimisers, whole models) as files. Every write is atomic
// (gpm/io/files.hpp), so a crash never leaves a half-written file behind.
#pragma once

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>

#include <torch/nn/module.h>
#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "gpm/core/capabilities.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/io/files.hpp"
#include "gpm/io/state.hpp"

namespace gpm::io {

/// The first line of an exception message (LibTorch appends a backtrace).
inline std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }

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

/// Reads the archive in `bytes`, the contents of the file `path`, which errors name, with its tensors
/// on `device` (default: the device each was saved from). Truncated, corrupted or foreign contents
/// are an InvalidArgument naming the file.
inline void load_archive_bytes(torch::serialize::InputArchive& archive, const std::string& bytes,
                               const std::filesystem::path& path, std::optional<torch::Device> device = std::nullopt) {
  try {
    std::istringstream in(bytes);
    if (device) archive.load_from(in, *device);
    else archive.load_from(in);
  } catch (const std::exception& e) {
    throw InvalidArgument(fmt::format("cannot load '{}': the file is truncated, corrupted or not a gpm checkpoint "
                                      "({})", path.string(), first_line(e.what())));
  }
}

/// Reads the archive in `path`, with its tensors on `device` (default: where each was saved). A
/// missing, truncated, corrupted or foreign file is an InvalidArgument naming the file.
inline void load_archive(torch::serialize::InputArchive& archive, const std::filesystem::path& path,
                         std::optional<torch::Device> device = std::nullopt) {
  load_archive_bytes(archive, read_file(path), path, device);
}

/// `load` from `bytes`, the contents of the file `path` that the caller has already read (to check
/// them, say), without reading it again.
/// Example: `gpm::io::load_bytes(model, verified_bytes, dir / "model.pt", torch::kCUDA);`
template <Checkpointable T>
void load_bytes(T& object, const std::string& bytes, const std::filesystem::path& path,
                std::optional<torch::Device> device = std::nullopt) {
  torch::serialize::InputArchive archive;
  load_archive_bytes(archive, bytes, path, device);
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

/// Loads what `save` wrote into `object`, which must have the same structure. Pass the device
/// `object` lives on when it may differ from the one the file was saved from (a checkpoint written on
/// a CPU, loaded into a model on a GPU): LibTorch would otherwise move each parameter to the device
/// it was saved from. A missing, truncated, corrupted or foreign file is an InvalidArgument naming
/// the file and the problem, and leaves `object` as it was.
/// Example: `gpm::io::load(model, dir / "model.pt");`, `gpm::io::load(model, path, torch::kCUDA);`
template <Checkpointable T>
void load(T& object, const std::filesystem::path& path, std::optional<torch::Device> device = std::nullopt) {
  load_bytes(object, read_file(path), path, device);
}

}  // namespace gpm::io
