// NumPy .npy files of float32 arrays of any shape, written and read without NumPy: samples and
// images saved by gpm load with `numpy.load` as they are.
#pragma once

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/io/files.hpp"

namespace gpm::io {

namespace detail {

inline constexpr std::string_view npy_magic{"\x93NUMPY", 6};

/// The header dictionary of a C-order little-endian float32 array of `shape`, as NumPy writes it.
inline std::string npy_header(const std::vector<int64_t>& shape) {
  const std::string dims = shape.size() == 1 ? fmt::format("{},", shape[0]) : fmt::format("{}", fmt::join(shape, ", "));
  return fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
}

/// The value of `key` in a header dictionary: the text after "'key':" up to `end` (excluded), or empty.
inline std::string_view npy_field(std::string_view header, std::string_view key, char end) {
  const auto at = header.find(fmt::format("'{}':", key));
  if (at == std::string_view::npos) return {};
  auto rest = header.substr(at + key.size() + 3);
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  const auto stop = rest.find(end);
  return stop == std::string_view::npos ? std::string_view{} : rest.substr(0, stop);
}

}  // namespace detail

/// Writes `array` (any shape, any floating dtype and device; stored as float32) to the .npy file
/// `path` (format 1.0, '<f4', C order), atomically. Throws gpm::InvalidArgument for a tensor that is
/// not floating point and gpm::RuntimeError when the file cannot be written.
/// Example: `gpm::io::write_npy("samples.npy", samples);  // numpy.load("samples.npy")`
inline void write_npy(const std::filesystem::path& path, const torch::Tensor& array) {
  static_assert(std::endian::native == std::endian::little, "write_npy writes the host's bytes as '<f4'");
  GPM_CHECK(array.defined() && array.is_floating_point(), "write_npy('{}'): expected a floating-point tensor, got {}",
            path.string(), array.defined() ? std::string(c10::toString(array.scalar_type())) : "an undefined tensor");
  const auto values = array.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::string header = detail::npy_header(values.sizes().vec());
  // Magic, version and length take 10 bytes; NumPy pads the header with spaces to a multiple of 64.
  header.append(63 - (10 + header.size()) % 64, ' ').push_back('\n');
  GPM_CHECK(header.size() <= 0xffff, "write_npy('{}'): a {}-dimensional array's header does not fit format 1.0",
            path.string(), values.dim());
  std::string bytes(detail::npy_magic);
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(static_cast<const char*>(values.data_ptr()), static_cast<size_t>(values.numel()) * sizeof(float));
  write_file_atomically(path, bytes);
}

/// The float32 array in the .npy file `path` as a CPU tensor of its shape. Reads what write_npy and
/// NumPy write for little-endian float32 in C order (format 1.0 or 2.0); another dtype or order, a
/// truncated file or one that is not .npy throws gpm::InvalidArgument naming the file and the problem.
/// Example: `torch::Tensor samples = gpm::io::read_npy("samples.npy");`
inline torch::Tensor read_npy(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const auto bad = [&](std::string_view problem) {
    return InvalidArgument(fmt::format("read_npy: '{}' {}", path.string(), problem));
  };
  if (bytes.size() < 10 || std::string_view(bytes).substr(0, 6) != detail::npy_magic) throw bad("is not a .npy file");
  const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(bytes[i])); };
  const auto major = byte(6);
  if (major != 1 && major != 2) throw bad(fmt::format("has .npy format version {}.{}; expected 1.0 or 2.0", major, byte(7)));
  const size_t length_bytes = major == 1 ? 2 : 4, start = 8 + length_bytes;
  if (bytes.size() < start) throw bad("is truncated in its header");
  size_t header_size = 0;
  for (size_t i = 0; i < length_bytes; ++i) header_size |= byte(8 + i) << (8 * i);
  if (bytes.size() < start + header_size) throw bad("is truncated in its header");
  const std::string_view header(bytes.data() + start, header_size);

  const auto descr = detail::npy_field(header, "descr", ',');
  if (descr != "'<f4'") throw bad(fmt::format("holds dtype {}; expected little-endian float32 '<f4'", descr));
  if (detail::npy_field(header, "fortran_order", ',') != "False") throw bad("is in Fortran order; expected C order");
  const auto shape_text = detail::npy_field(header, "shape", ')');
  if (shape_text.empty() || shape_text.front() != '(') throw bad("has no shape in its header");
  std::vector<int64_t> shape;
  int64_t count = 1;
  for (auto rest = shape_text.substr(1);;) {
    rest.remove_prefix(std::min(rest.find_first_not_of(" ,"), rest.size()));
    if (rest.empty()) break;
    int64_t dim = 0;
    const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), dim);
    if (error != std::errc() || dim < 0) throw bad(fmt::format("has a malformed shape {})", shape_text));
    shape.push_back(dim);
    count *= dim;
    rest.remove_prefix(static_cast<size_t>(end - rest.data()));
  }
  const size_t data_size = static_cast<size_t>(count) * sizeof(float);
  if (bytes.size() - start - header_size != data_size)
    throw bad(fmt::format("holds {} bytes of data; its shape ({}) needs {}", bytes.size() - start - header_size,
                          fmt::join(shape, ", "), data_size));
  auto array = torch::empty(shape, torch::kFloat32);
  std::memcpy(array.data_ptr(), bytes.data() + start + header_size, data_size);
  return array;
}

}  // namespace gpm::io
