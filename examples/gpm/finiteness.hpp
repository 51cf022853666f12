// Non-finite results are failures: a sample, a metric or a stored parameter that is NaN or infinite
// stops the command with a message saying where it appeared and what to try, instead of passing on
// as a success (a NaN row in a samples file, a `null` in log.jsonl, a checkpoint that samples NaN).
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/serialize/input-archive.h>
#include <torch/types.h>

#include <gpm/core/errors.hpp>

namespace gpm::runner {

/// What to change when a run's numbers become non-finite, from its config. A noise level whose
/// square overflows float32 (σ_max above about 1.8e19) is named first, as the cause; otherwise the
/// advice is to lower the learning rates (every field named lr, with its value) or narrow the noise
/// levels (every sigma_max).
/// Example: `divergence_advice(config)` is "lower the learning rate (optimizer.lr = 1000) or narrow
/// the noise levels (preconditioning.sigma_max = 80)".
inline std::string divergence_advice(const nlohmann::json& config) {
  std::vector<std::string> rates, noise_levels, overflowing;
  const std::function<void(const nlohmann::json&, const std::string&)> collect = [&](const nlohmann::json& object,
                                                                                     const std::string& prefix) {
    for (const auto& [key, value] : object.items()) {
      const auto path = prefix + key;
      if (value.is_object()) {
        collect(value, path + ".");
      } else if (value.is_number() && key == "lr") {
        rates.push_back(fmt::format("{} = {}", path, value.get<double>()));
      } else if (value.is_number() && key == "sigma_max") {
        const auto level = fmt::format("{} = {}", path, value.get<double>());
        noise_levels.push_back(level);
        if (value.get<double>() * value.get<double>() > std::numeric_limits<float>::max()) overflowing.push_back(level);
      }
    }
  };
  if (config.is_object()) collect(config, "");
  if (!overflowing.empty())
    return fmt::format("the noise levels are beyond float32's range ({}: σ² overflows above about 1.8e19); lower them",
                       fmt::join(overflowing, ", "));
  std::string advice = rates.empty() ? "lower the learning rate" : fmt::format("lower the learning rate ({})", fmt::join(rates, ", "));
  if (!noise_levels.empty()) advice += fmt::format(" or narrow the noise levels ({})", fmt::join(noise_levels, ", "));
  return advice;
}

/// "non-finite values in 16 of 1000 samples" when samples `x` [N, ...] hold a NaN or an infinite
/// value; nothing when all are finite.
/// Example: `if (const auto bad = non_finite_samples(x)) throw RuntimeError("sampling produced " + *bad);`
inline std::optional<std::string> non_finite_samples(const torch::Tensor& x) {
  const auto finite = torch::isfinite(x.reshape({x.size(0), -1})).all(1);
  const auto bad = x.size(0) - finite.sum().item<int64_t>();
  if (bad == 0) return std::nullopt;
  return fmt::format("non-finite values in {} of {} samples", bad, x.size(0));
}

/// The name and value of the first number in `metrics` (nested objects and arrays included) that is
/// NaN or infinite, such as "energy_distance (nan)"; JSON has no such numbers, so the log would hold `null`.
inline std::optional<std::string> first_non_finite_metric(const nlohmann::json& metrics, const std::string& prefix = {}) {
  for (const auto& [key, value] : metrics.items()) {
    const auto name = prefix + key;
    if (value.is_structured()) {
      if (auto found = first_non_finite_metric(value, name + ".")) return found;
    } else if (value.is_number_float() && !std::isfinite(value.get<double>())) {
      return fmt::format("{} ({})", name, value.get<double>());
    }
  }
  return std::nullopt;
}

/// The dotted name of the first floating-point tensor in `archive` (nested archives included) that
/// holds a NaN or an infinite value: a parameter, buffer, weight average or optimiser state.
inline std::optional<std::string> first_non_finite_tensor(torch::serialize::InputArchive& archive,
                                                          const std::string& prefix = {}) {
  for (const auto& key : archive.keys()) {
    torch::Tensor tensor;
    if (archive.try_read(key, tensor)) {
      if (tensor.is_floating_point() && !torch::isfinite(tensor).all().item<bool>()) return prefix + key;
      continue;
    }
    torch::serialize::InputArchive nested;
    if (archive.try_read(key, nested))
      if (auto found = first_non_finite_tensor(nested, prefix + key + ".")) return found;
  }
  return std::nullopt;
}

}  // namespace gpm::runner
