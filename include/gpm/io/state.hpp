// Checkpointable state: the archive helpers every stateful policy uses to save and restore its
// networks, optimisers, random streams and counters, for bit-exact resumption of training.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Generator.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

namespace gpm {

/// A component whose whole training state can be written to and read from an archive.
template <class T>
concept Checkpointable = requires(const T& c, T& m, torch::serialize::OutputArchive& out, torch::serialize::InputArchive& in) {
  c.save(out);
  m.load(in);
};

namespace io {

/// Writes `object` (a module, an optimiser, or a Checkpointable) as a nested archive under `key`.
template <class T>
void write_nested(torch::serialize::OutputArchive& archive, const std::string& key, const T& object) {
  torch::serialize::OutputArchive nested(archive.compilation_unit());
  object.save(nested);
  archive.write(key, nested);
}

/// Reads what write_nested wrote under `key` into `object`.
template <class T>
void read_nested(torch::serialize::InputArchive& archive, const std::string& key, T& object) {
  torch::serialize::InputArchive nested;
  archive.read(key, nested);
  object.load(nested);
}

/// Random streams are saved as their state tensors.
inline void write_generator(torch::serialize::OutputArchive& archive, const std::string& key, const at::Generator& gen) {
  archive.write(key, gen.get_state());
}

inline void read_generator(torch::serialize::InputArchive& archive, const std::string& key, at::Generator& gen) {
  torch::Tensor state;
  archive.read(key, state);
  gen.set_state(state);
}

inline void write_counter(torch::serialize::OutputArchive& archive, const std::string& key, int64_t value) {
  archive.write(key, torch::tensor(value, torch::kLong));
}

inline int64_t read_counter(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor value;
  archive.read(key, value);
  return value.item<int64_t>();
}

/// Writes a module held by `holder` (module holders save through operator->).
template <class Holder>
void write_module(torch::serialize::OutputArchive& archive, const std::string& key, const Holder& holder) {
  write_nested(archive, key, *holder);
}

template <class Holder>
void read_module(torch::serialize::InputArchive& archive, const std::string& key, Holder& holder) {
  read_nested(archive, key, *holder);
}

}  // namespace io
}  // namespace gpm
