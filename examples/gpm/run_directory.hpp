// A run directory and who may write in it: its files, and the lock that gives one process at a
// time the right to train into it. A second training or resume into a directory in use is refused,
// naming the process that holds it, instead of mixing two runs in one directory.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include <gpm/core/errors.hpp>

namespace gpm::runner {

namespace fs = std::filesystem;

/// Where a run writes: its description, checkpoint, log, snapshots and lock.
/// Example: `io::save(checkpoint, RunFiles{dir}.checkpoint());`
struct RunFiles {
  fs::path dir;
  fs::path info() const { return dir / "run.json"; }
  fs::path checkpoint() const { return dir / "checkpoint.pt"; }
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
      if (busy)
        throw InvalidArgument(fmt::format("'{}' is in use: {} is writing it (it holds '{}'); {}", dir.string(), problem,
                                          path.string(), fix));
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

 private:
  int fd_ = -1;
};

}  // namespace gpm::runner
