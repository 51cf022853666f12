// The device the runner's models live on (`gpm --device`), chosen once per process and checked
// against what this LibTorch can run. Data, files and metrics stay on the CPU: a Run takes batches
// and gives samples there (run.hpp).
#pragma once

#include <optional>
#include <string>

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/serialize/input-archive.h>
#include <torch/types.h>

#include <gpm/core/errors.hpp>

namespace gpm::runner {

/// The device named `name` ("cpu", "cuda", "cuda:N"), once this LibTorch and machine can run it.
inline torch::Device parse_device(const std::string& name) {
  const auto parsed = [&] {
    try {
      return torch::Device(name);
    } catch (const std::exception&) {
      throw InvalidArgument(fmt::format("--device '{}': name a device as cpu, cuda or cuda:N", name));
    }
  }();
  GPM_CHECK(parsed.is_cpu() || parsed.is_cuda(), "--device '{}': gpm trains on cpu or cuda", name);
  if (parsed.is_cpu()) return parsed;
  GPM_CHECK(torch::cuda::is_available(), "--device {}: this LibTorch sees no CUDA device (it was built for CPUs only, or "
            "no GPU is visible); build gpm against a CUDA build of LibTorch (docs/distributed.md, \"CUDA\"), or drop "
            "--device", name);
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  GPM_CHECK(!parsed.has_index() || parsed.index() < count, "--device {}: this machine has {} CUDA device{} (cuda:0 to "
            "cuda:{})", name, count, count == 1 ? "" : "s", count - 1);
  return parsed.has_index() ? parsed : torch::Device(torch::kCUDA, 0);
}

/// The device models are built on in this process: --device, else the CPU.
inline torch::Device& model_device() {
  static torch::Device device = torch::kCPU;
  return device;
}

/// A device's kind as run.json records it: "cpu" or "cuda" (a run moves between GPUs of a machine).
inline std::string device_kind(const torch::Device& device) { return device.is_cuda() ? "cuda" : "cpu"; }

/// "'name' (on cpu)" for the first floating-point tensor in `archive` (nested archives included) that
/// is not on `device`: a parameter, buffer, weight average or optimiser state that a part of a model
/// left behind. Random streams' states (byte tensors on the CPU for every device) and counters are
/// not floating-point.
inline std::optional<std::string> first_tensor_off_device(torch::serialize::InputArchive& archive, const torch::Device& device,
                                                          const std::string& prefix = {}) {
  for (const auto& key : archive.keys()) {
    torch::Tensor tensor;
    if (archive.try_read(key, tensor)) {
      if (tensor.is_floating_point() && tensor.device() != device)
        return fmt::format("'{}{}' (on {})", prefix, key, tensor.device().str());
      continue;
    }
    torch::serialize::InputArchive nested;
    if (archive.try_read(key, nested))
      if (auto found = first_tensor_off_device(nested, device, prefix + key + ".")) return found;
  }
  return std::nullopt;
}

}  // namespace gpm::runner
