// A run directory and who may write in it: its files; the lock that gives one process at a time the
// right to train into it (a second training or resume into a directory in use is refused, naming the
// process that holds it, instead of mixing two runs in one directory); the rule that a new run starts
// in a new or empty directory, so that training never overwrites or deletes a file; and the check
// that keeps every other output out of a run's own files.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <gpm/core/errors.hpp>

namespace gpm::runner {

namespace fs = std::filesystem;

/// Where a run writes: its description, checkpoint and the checkpoint's manifest, log, snapshots and lock.
/// Example: `if (fs::exists(RunFiles{dir}.checkpoint())) …`
struct RunFiles {
  fs::path dir;
  fs::path info() const { return dir / "run.json"; }
  fs::path checkpoint() const { return dir / "checkpoint.pt"; }
  fs::path manifest() const { return dir / "checkpoint.json"; }
  fs::path log() const { return dir / "log.jsonl"; }
  fs::path snapshots() const { return dir / "snapshots"; }
  fs::path lock() const { return dir / ".gpm-lock"; }
};

namespace detail {

inline std::string errno_message() { return std::generic_category().message(errno); }

/// "PID 1234" of the process that holds the lock open in `fd`, as it wrote itself there, or a
/// description without one while it has not yet written it.
inline std::string lock_holder(int fd) {
  char text[32] = {};
  const auto n = ::pread(fd, text, sizeof(text) - 1, 0);
  const std::string pid = n > 0 ? std::string(text, static_cast<size_t>(n)) : std::string();
  const auto digits = pid.substr(0, pid.find_first_not_of("0123456789"));
  return digits.empty() ? std::string("another process") : "PID " + digits;
}

/// "'DIR' is in use: PID 1234 is writing it (…); `fix`".
inline std::string in_use_message(const fs::path& dir, const std::string& holder, std::string_view fix) {
  return fmt::format("'{}' is in use: {} is writing it (it holds '{}'); {}", dir.string(), holder,
                     RunFiles{dir}.lock().string(), fix);
}

}  // namespace detail

/// The exclusive right to write a run directory, held from construction to destruction: an advisory
/// lock (flock) on RunFiles::lock(), a file that holds the holder's PID. The system releases the lock
/// when its process ends, however it ends, so a killed training leaves no stale lock behind; the file
/// itself stays. Another process asking for the same directory gets gpm::InvalidArgument naming the
/// holder's PID and `fix`, what to do about it.
/// Example: `const RunLock lock(dir, "wait for it to finish");`
class RunLock {
 public:
  RunLock(const fs::path& dir, std::string_view fix) {
    const auto path = RunFiles{dir}.lock();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    GPM_CHECK(fd_ >= 0, "cannot create '{}' ({}); the run directory '{}' must be writable", path.string(),
              detail::errno_message(), dir.string());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const bool busy = errno == EWOULDBLOCK;
      const std::string problem = busy ? detail::lock_holder(fd_) : detail::errno_message();
      ::close(fd_);
      if (busy) throw InvalidArgument(detail::in_use_message(dir, problem, fix));
      throw RuntimeError(fmt::format("cannot lock '{}' ({}); the run directory must be on a file system with locks",
                                     path.string(), problem));
    }
    const auto pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      const auto problem = detail::errno_message();
      ::close(fd_);
      throw RuntimeError(fmt::format("writing '{}' failed ({})", path.string(), problem));
    }
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock() { ::close(fd_); }

  /// The holder of the lock of the run directory `dir`, if a process holds it now ("PID 1234").
  /// Looks without creating anything.
  static std::optional<std::string> holder(const fs::path& dir) {
    const int fd = ::open(RunFiles{dir}.lock().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::optional<std::string> who;
    if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) who = detail::lock_holder(fd);
    ::close(fd);  // releases the shared lock, if it was taken
    return who;
  }

 private:
  int fd_ = -1;
};

/// Refuses `dir`, a new run's directory, unless it holds nothing but the lock file (see
/// check_new_run_directory).
inline void check_empty_for_run(const fs::path& dir) {
  const RunFiles files{dir};
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename() != files.lock().filename()) names.push_back(entry.path().filename().string());
  if (names.empty()) return;
  GPM_CHECK(!fs::exists(files.checkpoint()), "'{}' already holds a run; continue it with --resume {} or choose another "
            "--out", dir.string(), dir.string());
  GPM_CHECK(!fs::exists(files.info()), "'{}' holds a run that has no checkpoint (it stopped before its first one); "
            "train starts a run only in a new or empty directory: remove it or choose another --out", dir.string());
  std::sort(names.begin(), names.end());
  const auto shown = std::vector<std::string>(names.begin(), names.begin() + std::min<size_t>(names.size(), 3));
  throw InvalidArgument(fmt::format("'{}' is not empty (it holds {}{}); train starts a run only in a new or empty "
                                    "directory, so that it never overwrites a file: choose another --out, or empty it",
                                    dir.string(), fmt::join(shown, ", "), names.size() > shown.size() ? ", …" : ""));
}

/// Refuses `dir` as the directory of a new run unless it is empty (but for an idle lock file): a
/// directory in use, a finished run (which --resume continues), the remains of a run stopped before its
/// first checkpoint, or anyone's files. Training never overwrites or deletes anything, so a mistyped
/// --out costs nothing; emptying a directory is for its owner to do. Looks without writing.
inline void check_new_run_directory(const fs::path& dir) {
  if (const auto who = RunLock::holder(dir))
    throw InvalidArgument(detail::in_use_message(dir, *who, "wait for it to finish, or choose another --out"));
  check_empty_for_run(dir);
}

/// Whether `dir` is a run directory: one that gpm train has written or is writing.
inline bool is_run_directory(const fs::path& dir) {
  const RunFiles files{dir};
  return fs::exists(files.info()) || fs::exists(files.checkpoint()) || fs::exists(files.lock());
}

/// Refuses `out`, what `option` writes (a file, or a folder of figures), when it is one of a run's own
/// files (run.json, checkpoint.pt and its manifest checkpoint.json, log.jsonl, the lock, the temporary
/// files of their atomic writes) or lies in its snapshots/, also through a link: writing there would
/// damage the run. Other paths in a run directory, such as samples beside the run or figures/, are fine.
/// Example: `check_outside_run_files("runs/gan/run.json", "--out")` throws.
inline void check_outside_run_files(const fs::path& out, std::string_view option) {
  static const std::set<std::string> own = {"run.json",        "run.json.tmp",        "checkpoint.pt", "checkpoint.pt.tmp",
                                            "checkpoint.json", "checkpoint.json.tmp", "log.jsonl",     "log.jsonl.tmp",
                                            "snapshots",       ".gpm-lock"};
  std::error_code ec;
  auto path = fs::weakly_canonical(fs::absolute(out), ec);
  if (ec) path = fs::absolute(out).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();  // "dir/" names dir
  for (auto p = path; p.has_relative_path(); p = p.parent_path()) {
    GPM_CHECK(!own.contains(p.filename().string()) || !is_run_directory(p.parent_path()),
              "{} '{}' is one of the own files of the run in '{}' (run.json, checkpoint.pt, checkpoint.json, log.jsonl, "
              "snapshots/); writing it would damage the run: choose another path", option, out.string(), p.parent_path().string());
  }
}

}  // namespace gpm::runner
