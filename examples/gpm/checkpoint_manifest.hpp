// checkpoint.json, the manifest of a run's checkpoint.pt: its format, step, size and SHA-256, read
// and checked before a checkpoint is loaded (checkpoint_files.hpp). Free of LibTorch: a manifest is
// JSON text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gpm/core/errors.hpp>

#include "sha256.hpp"

namespace gpm::runner {

/// The format of the checkpoints this runner writes and reads (`gpm_checkpoint_format` in
/// checkpoint.pt, `format` in its manifest).
inline constexpr int64_t kCheckpointFormat = 1;

/// What checkpoint.json records of checkpoint.pt.
/// Example: `auto manifest = CheckpointManifest::parse(text, "run/checkpoint.json");`
struct CheckpointManifest {
  int64_t format = kCheckpointFormat;
  int64_t step = 0;
  uint64_t size = 0;
  std::string sha256;

  /// The manifest of `bytes`, the checkpoint of step `step`.
  static CheckpointManifest of(const std::string& bytes, int64_t step) {
    return {kCheckpointFormat, step, bytes.size(), sha256_hex(bytes)};
  }

  nlohmann::json to_json() const {
    return {{"file", "checkpoint.pt"}, {"format", format}, {"step", step}, {"size", size}, {"sha256", sha256}};
  }

  /// The manifest in `text`, the contents of the file `source`; text that is not one is an
  /// InvalidArgument naming `source`.
  static CheckpointManifest parse(std::string_view text, std::string_view source) {
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool valid = j.is_object() && j.contains("format") && j.at("format").is_number_integer() && j.contains("step") &&
                       j.at("step").is_number_integer() && j.contains("size") && j.at("size").is_number_unsigned() &&
                       j.contains("sha256") && j.at("sha256").is_string();
    GPM_CHECK(valid, "'{}' is not a checkpoint manifest (a JSON object with format, step, size and sha256); if the "
              "checkpoint beside it is intact, remove the manifest to load the checkpoint unverified", source);
    CheckpointManifest m{j.at("format").get<int64_t>(), j.at("step").get<int64_t>(), j.at("size").get<uint64_t>(),
                         j.at("sha256").get<std::string>()};
    GPM_CHECK(m.format == kCheckpointFormat, "'{}' describes a checkpoint of format {}; this gpm reads format {}", source,
              m.format, kCheckpointFormat);
    return m;
  }

  /// Why a file of `size` bytes with the SHA-256 `digest` is not the checkpoint this manifest
  /// describes; nothing if it is.
  std::optional<std::string> mismatch(uint64_t actual_size, const std::string& digest) const {
    if (actual_size != size) return fmt::format("it has {} bytes, the manifest records {}", actual_size, size);
    if (digest != sha256) return fmt::format("its SHA-256 is {}, the manifest records {}", digest, sha256);
    return std::nullopt;
  }
};

}  // namespace gpm::runner
