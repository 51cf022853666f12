// A run's checkpoint on disk: checkpoint.pt, everything a resume needs, and checkpoint.json, its
// manifest (format, step, size and SHA-256 of checkpoint.pt). A new pair is written beside the old
// one, synced and read back before it replaces it, so a crash or a full disk leaves the previous
// checkpoint in place. A checkpoint is checked against its manifest before anything is loaded: a
// file damaged on disk or in a copy is refused, where it would otherwise sample or resume from
// changed weights. A run stored before manifests existed has none, and loads unverified.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <gpm/io/checkpoint.hpp>

#include "checkpoint_manifest.hpp"
#include "run.hpp"
#include "run_directory.hpp"
#include "sha256.hpp"

namespace gpm::runner {

/// Everything a resumed run needs: the model's state, the data stream and the step counter.
struct Checkpoint {
  Run& run;
  at::Generator& data_generator;
  int64_t& step;

  static constexpr int64_t kFormat = kCheckpointFormat;

  void save(torch::serialize::OutputArchive& archive) const {
    io::write_counter(archive, "gpm_checkpoint_format", kFormat);
    io::write_counter(archive, "step", step);
    io::write_generator(archive, "data_generator", data_generator);
    io::write_nested(archive, "model", run);
  }
  void load(torch::serialize::InputArchive& archive) {
    torch::Tensor format;
    GPM_CHECK(archive.try_read("gpm_checkpoint_format", format), "not a gpm checkpoint (no format marker)");
    GPM_CHECK(format.item<int64_t>() == kFormat, "checkpoint format {} is not the supported format {}",
              format.item<int64_t>(), kFormat);
    step = io::read_counter(archive, "step");
    io::read_generator(archive, "data_generator", data_generator);
    io::read_nested(archive, "model", run);
  }
};

/// The manifest in the file `path`; a file that is not one is an InvalidArgument naming it.
inline CheckpointManifest read_manifest(const fs::path& path) {
  return CheckpointManifest::parse(io::read_file(path), path.string());
}

namespace detail {

inline fs::path temporary(const fs::path& path) { return io::temporary_path(path); }

/// Which file `path` names now (its inode and modification time): a rename over it changes them.
inline std::pair<ino_t, int64_t> file_identity(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return {st.st_ino, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

/// Writes `contents` to `path` (created or emptied) and syncs it to the disk; a failure is a
/// RuntimeError naming the file and the system's reason.
inline void write_synced(const fs::path& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw RuntimeError(fmt::format("cannot write '{}' ({})", path.string(), errno_message()));
  const auto fail = [&](std::string_view what) {
    const auto problem = errno_message();
    ::close(fd);
    return RuntimeError(fmt::format("{} '{}' failed ({})", what, path.string(), problem));
  };
  for (size_t done = 0; done < contents.size();) {
    const auto n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw fail("writing");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) throw fail("syncing");
  if (::close(fd) != 0) throw RuntimeError(fmt::format("writing '{}' failed ({})", path.string(), errno_message()));
}

/// Renames `from` over `to`; a failure is a RuntimeError naming both.
inline void rename_over(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw RuntimeError(fmt::format("cannot rename '{}' to '{}': {}", from.string(), to.string(), ec.message()));
}

/// Syncs the directory `dir`, so that the renames in it outlast a crash. Best effort: a file system
/// that cannot sync a directory keeps them as it keeps any rename.
inline void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace detail

namespace detail {

/// Makes the rename that a save stopped between its two renames did not make: the checkpoint then
/// lies beside the temporary manifest that describes it, its only manifest, which the next save would
/// overwrite (or, failing, remove) before its own renames.
inline void finish_stopped_save(const RunFiles& files) {
  const auto pending = temporary(files.manifest());
  if (!fs::exists(pending) || !fs::exists(files.checkpoint())) return;
  const auto bytes = io::read_file(files.checkpoint());
  try {
    if (read_manifest(pending).mismatch(bytes.size(), sha256_hex(bytes))) return;  // a stale one
  } catch (const InvalidArgument&) {  // cut short as it was written: not the checkpoint's
    return;
  }
  rename_over(pending, files.manifest());
  sync_directory(files.dir);
}

}  // namespace detail

/// Writes `bytes`, the checkpoint of step `step`, as files.checkpoint() with its manifest. Both go to
/// temporary files first (the checkpoint synced, read back and checked); then they are renamed over
/// the previous pair, checkpoint first. A stop between the two renames leaves the new checkpoint
/// with the temporary manifest that describes it, which read_checkpoint accepts, and which the next
/// save renames into place before it writes anything. A failure removes the temporary files and
/// leaves the previous checkpoint as it was.
/// Example: `save_checkpoint(RunFiles{dir}, archive_bytes(Checkpoint{run, gen, step}), step);`
inline void save_checkpoint(const RunFiles& files, const std::string& bytes, int64_t step) {
  const auto manifest = CheckpointManifest::of(bytes, step);
  const auto checkpoint_tmp = detail::temporary(files.checkpoint()), manifest_tmp = detail::temporary(files.manifest());
  detail::finish_stopped_save(files);
  try {
    detail::write_synced(checkpoint_tmp, bytes);
    const auto written = io::read_file(checkpoint_tmp);
    if (const auto problem = manifest.mismatch(written.size(), sha256_hex(written)))
      throw RuntimeError(fmt::format("'{}' reads back other than it was written ({}); the disk is failing",
                                     checkpoint_tmp.string(), *problem));
    detail::write_synced(manifest_tmp, manifest.to_json().dump(2) + "\n");
  } catch (...) {
    std::error_code ignored;
    fs::remove(checkpoint_tmp, ignored);
    fs::remove(manifest_tmp, ignored);
    throw;
  }
  detail::rename_over(checkpoint_tmp, files.checkpoint());
  detail::rename_over(manifest_tmp, files.manifest());
  detail::sync_directory(files.dir);
}

/// The contents of files.checkpoint(), checked against its manifest: a checkpoint whose size or
/// SHA-256 differs from the manifest's is an InvalidArgument naming the file, before anything is
/// loaded. A checkpoint without a manifest (a run stored before manifests) comes back unverified.
/// Reading takes no lock: a mismatch read while a training replaced the pair is read again.
inline std::string read_checkpoint(const RunFiles& files) {
  for (int attempt = 1;; ++attempt) {
    const auto before = std::pair(detail::file_identity(files.checkpoint()), detail::file_identity(files.manifest()));
    std::string bytes = io::read_file(files.checkpoint());
    if (!fs::exists(files.manifest())) return bytes;
    const auto digest = sha256_hex(bytes);
    const auto problem = read_manifest(files.manifest()).mismatch(bytes.size(), digest);
    if (!problem) return bytes;
    // A training stopped between its two renames left the new checkpoint beside the temporary manifest.
    const auto pending = detail::temporary(files.manifest());
    try {
      if (fs::exists(pending) && !read_manifest(pending).mismatch(bytes.size(), digest)) return bytes;
    } catch (const InvalidArgument&) {  // a manifest cut short as it was written: not the checkpoint's
    }
    const auto after = std::pair(detail::file_identity(files.checkpoint()), detail::file_identity(files.manifest()));
    if (after != before && attempt < 3) continue;
    throw InvalidArgument(fmt::format("'{}' does not match its manifest '{}': {}. The file changed after it was written, "
                                      "on disk or in a copy, and nothing was loaded from it; restore the run directory "
                                      "from a backup, or train the run again", files.checkpoint().string(),
                                      files.manifest().string(), *problem));
  }
}

}  // namespace gpm::runner
