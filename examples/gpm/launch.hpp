// `gpm launch -n K -- train ...`: K ranks of a data-parallel training on this machine, each a gpm
// process told its place by the conventional environment variables (as torchrun does), sharing the
// cores. When one rank fails, the others are stopped.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <gpm/core/errors.hpp>

#include "device.hpp"

extern char** environ;

namespace gpm::runner {

/// A TCP port on 127.0.0.1 that is free now (the system's choice).
inline int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw RuntimeError("gpm launch: cannot open a socket to find a free port; pass --master-port P");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool found = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!found) throw RuntimeError("gpm launch: cannot find a free port; pass --master-port P");
  return ntohs(address.sin_port);
}

/// How a child ended, in words, and the exit code that reports it.
inline std::pair<std::string, int> child_outcome(int status) {
  if (WIFEXITED(status)) return {fmt::format("exited with status {}", WEXITSTATUS(status)), WEXITSTATUS(status)};
  if (WIFSIGNALED(status)) return {fmt::format("was killed by signal {}", WTERMSIG(status)), 128 + WTERMSIG(status)};
  return {"stopped", 1};
}

/// Runs `command` (gpm's arguments: `train ...`) as ranks 0..processes-1 of a group meeting at
/// 127.0.0.1:`port` (a free one if none), each with `cores / processes` threads unless the command
/// says --threads. Returns 0 when every rank succeeds, else the first failing rank's exit code; the
/// others are given `grace_seconds` to end on their own, then stopped.
inline int command_launch(int64_t processes, std::optional<int64_t> port, std::vector<std::string> command, int cores,
                          double grace_seconds = 30) {
  GPM_CHECK(processes >= 1, "gpm launch: -n must be >= 1, got {}", processes);
  GPM_CHECK(!command.empty() && command.front() == "train", "gpm launch runs ranks of a training: gpm launch -n {} -- "
            "train --model M --data D --out DIR ...", processes);
  GPM_CHECK(!port || (*port > 0 && *port < 65536), "gpm launch: --master-port must be in [1, 65535], got {}", port.value_or(0));
  for (const auto* flag : {"--world-size", "--rank", "--master-addr", "--master-port"})
    GPM_CHECK(std::find(command.begin(), command.end(), flag) == command.end(), "gpm launch sets each rank's {} itself; "
              "drop it from the command", flag);
  // A --device given to launch (gpm --device cuda launch ...) goes to every rank.
  if (!model_device().is_cpu() && std::find(command.begin(), command.end(), "--device") == command.end())
    command.insert(command.begin() + 1, {"--device", model_device().str()});
  if (std::find(command.begin(), command.end(), "--threads") == command.end()) {
    const auto threads = std::max<int64_t>(1, cores / processes);
    command.insert(command.begin() + 1, {"--threads", std::to_string(threads)});
  }
  const int master_port = port ? static_cast<int>(*port) : free_local_port();
  std::vector<char> self(4096);
  const auto length = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (length <= 0) throw RuntimeError("gpm launch: cannot find this program's path (/proc/self/exe)");
  const std::string program(self.data(), static_cast<size_t>(length));

  // Everything a child needs is built before fork: between fork and exec it only calls execve.
  std::vector<std::vector<std::string>> environments(static_cast<size_t>(processes));
  for (int64_t rank = 0; rank < processes; ++rank) {
    auto& env = environments[static_cast<size_t>(rank)];
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      const auto name = entry.substr(0, entry.find('='));
      if (name != "WORLD_SIZE" && name != "RANK" && name != "LOCAL_RANK" && name != "LOCAL_WORLD_SIZE" &&
          name != "MASTER_ADDR" && name != "MASTER_PORT")
        env.push_back(entry);
    }
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"WORLD_SIZE", std::to_string(processes)}, {"RANK", std::to_string(rank)},
             {"LOCAL_RANK", std::to_string(rank)}, {"LOCAL_WORLD_SIZE", std::to_string(processes)},
             {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", std::to_string(master_port)}})
      env.push_back(name + "=" + value);
  }
  const auto pointers = [](std::vector<std::string>& strings) {
    std::vector<char*> p;
    for (auto& s : strings) p.push_back(s.data());
    p.push_back(nullptr);
    return p;
  };
  std::vector<std::string> arguments{program};
  arguments.insert(arguments.end(), command.begin(), command.end());
  auto argv = pointers(arguments);

  std::vector<pid_t> children;
  for (int64_t rank = 0; rank < processes; ++rank) {
    auto envp = pointers(environments[static_cast<size_t>(rank)]);
    const pid_t pid = ::fork();
    if (pid < 0) throw RuntimeError(fmt::format("gpm launch: cannot start rank {} ({})", rank, std::strerror(errno)));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a launcher that dies takes its ranks with it
      ::execve(program.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    children.push_back(pid);
  }

  using Clock = std::chrono::steady_clock;
  std::optional<int> exit_code;
  std::optional<Clock::time_point> stop_at;
  bool terminated = false;
  size_t running = children.size();
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR) break;
    if (pid <= 0) {
      if (stop_at && Clock::now() > *stop_at) {
        for (const auto child : children)
          if (child > 0) ::kill(child, terminated ? SIGKILL : SIGTERM);
        stop_at = Clock::now() + std::chrono::seconds(5);
        terminated = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const auto it = std::find(children.begin(), children.end(), pid);
    if (it == children.end()) continue;
    const auto rank = it - children.begin();
    *it = -1;
    --running;
    const auto [words, code] = child_outcome(status);
    if (code != 0 && !exit_code) {
      exit_code = code;
      if (running > 0) {
        fmt::print(stderr, "gpm launch: rank {} {}; the other ranks stop within {:.0f} s\n", rank, words, grace_seconds);
        stop_at = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(grace_seconds * 1000));
      } else {
        fmt::print(stderr, "gpm launch: rank {} {}\n", rank, words);
      }
    }
  }
  return exit_code.value_or(0);
}

}  // namespace gpm::runner
