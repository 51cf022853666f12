// Archive helpers: how every stateful part writes its networks, optimisers, random streams and
// counters into a LibTorch archive and reads them back, for bit-exact resumption of training.
// Files (atomic writes, errors naming the file) are gpm/io/checkpoint.hpp's business.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Generator.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

namespace gpm {

/// Writes `object` (a module, an optimiser, or a gpm::Checkpointable) as a nested archive under `key`.
/// Example: `write_nested(archive, "optimizer", optimizer);`
template <class T>
void write_nested(torch::serialize::OutputArchive& archive, const std::string& key, const T& object) {
  torch::serialize::OutputArchive nested(archive.compilation_unit());
  object.save(nested);
  archive.write(key, nested);
}

/// Reads what write_nested wrote under `key` into `object`.
/// Example: `read_nested(archive, "optimizer", optimizer);`
template <class T>
void read_nested(torch::serialize::InputArchive& archive, const std::string& key, T& object) {
  torch::serialize::InputArchive nested;
  archive.read(key, nested);
  object.load(nested);
}

/// Writes a random stream as its state tensor.
/// Example: `write_generator(archive, "generator", gen);`
inline void write_generator(torch::serialize::OutputArchive& archive, const std::string& key, const at::Generator& gen) {
  archive.write(key, gen.get_state());
}

/// Restores a random stream from the state tensor write_generator wrote under `key`.
/// Example: `read_generator(archive, "generator", gen);`
inline void read_generator(torch::serialize::InputArchive& archive, const std::string& key, at::Generator& gen) {
  torch::Tensor state;
  archive.read(key, state);
  gen.set_state(state);
}

/// Writes an integer counter (an iteration or update count).
/// Example: `write_counter(archive, "iteration", iteration_);`
inline void write_counter(torch::serialize::OutputArchive& archive, const std::string& key, int64_t value) {
  archive.write(key, torch::tensor(value, torch::kLong));
}

/// The counter write_counter wrote under `key`.
/// Example: `iteration_ = read_counter(archive, "iteration");`
inline int64_t read_counter(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor value;
  archive.read(key, value);
  return value.item<int64_t>();
}

/// Writes a module held by `holder` (module holders save through operator->).
/// Example: `write_module(archive, "net", net_);`
template <class Holder>
void write_module(torch::serialize::OutputArchive& archive, const std::string& key, const Holder& holder) {
  write_nested(archive, key, *holder);
}

/// Reads into the module held by `holder` what write_module wrote under `key`.
/// Example: `read_module(archive, "net", net_);`
template <class Holder>
void read_module(torch::serialize::InputArchive& archive, const std::string& key, Holder& holder) {
  read_nested(archive, key, *holder);
}

}  // namespace gpm
