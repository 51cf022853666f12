// Archive helpers: how every stateful part writes its networks, optimisers, random streams and
// counters into a LibTorch archive and reads them back, for bit-exact resumption of training.
// Files (atomic writes, errors naming the file) are gpm/io/checkpoint.hpp's business.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include <ATen/core/Generator.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

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

/// Restores a random stream from the state tensor write_generator wrote under `key` (a byte tensor
/// on the CPU for every device's generator, whichever device the archive was read onto).
/// Example: `read_generator(archive, "generator", gen);`
inline void read_generator(torch::serialize::InputArchive& archive, const std::string& key, at::Generator& gen) {
  torch::Tensor state;
  archive.read(key, state);
  gen.set_state(state.to(torch::kCPU));
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

namespace detail {
/// Copies the saved tensors into `module`'s own, after checking that the archive holds exactly its
/// parameters, buffers and submodules with the same shapes and dtypes: a checkpoint of another
/// architecture is refused before any weight changes shape (LibTorch's Module::load would take the
/// saved shapes as they are).
inline void read_module_state(torch::serialize::InputArchive& archive, torch::nn::Module& module, const std::string& path) {
  std::set<std::string> expected;
  for (const auto& p : module.named_parameters(/*recurse=*/false)) expected.insert(p.key());
  for (const auto& b : module.named_buffers(/*recurse=*/false)) expected.insert(b.key());
  for (const auto& c : module.named_children()) expected.insert(c.key());
  const auto saved_keys = archive.keys();
  const std::set<std::string> saved(saved_keys.begin(), saved_keys.end());
  GPM_CHECK(saved == expected, "the saved module '{}' holds [{}], this one [{}]: the checkpoint belongs to another "
            "architecture", path, fmt::join(saved, ", "), fmt::join(expected, ", "));
  torch::NoGradGuard no_grad;
  const auto copy = [&](const std::string& key, const torch::Tensor& own, bool is_buffer) {
    torch::Tensor value;
    archive.read(key, value, is_buffer);
    GPM_CHECK(value.sizes() == own.sizes() && value.scalar_type() == own.scalar_type(),
              "the saved tensor '{}{}' is {} {}, this module's is {} {}: the checkpoint belongs to another architecture",
              path, key, std::string(c10::toString(value.scalar_type())), shape_string(value),
              std::string(c10::toString(own.scalar_type())), shape_string(own));
    own.copy_(value);
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false)) copy(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) copy(b.key(), b.value(), true);
  for (const auto& c : module.named_children()) {
    torch::serialize::InputArchive nested;
    archive.read(c.key(), nested);
    read_module_state(nested, *c.value(), path + c.key() + ".");
  }
}
}  // namespace detail

/// Reads into the module held by `holder` what write_module wrote under `key`; a module of another
/// architecture (other parameters, shapes or dtypes) is an InvalidArgument naming the tensor, and
/// leaves the module's shapes as they were.
/// Example: `read_module(archive, "net", net_);`
template <class Holder>
void read_module(torch::serialize::InputArchive& archive, const std::string& key, Holder& holder) {
  torch::serialize::InputArchive nested;
  archive.read(key, nested);
  detail::read_module_state(nested, *holder, key + ".");
}

}  // namespace gpm
