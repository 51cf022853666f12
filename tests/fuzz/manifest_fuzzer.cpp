// Checkpoint manifests (examples/gpm/checkpoint_manifest.hpp): any text is a manifest or a
// gpm::InvalidArgument; a manifest read is written back (as a checkpoint's is) to a text that reads
// back the same.
#include <string>

#include "fuzz_support.hpp"
#include "gpm/checkpoint_manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fuzz = gpm::fuzz;
  using gpm::runner::CheckpointManifest;
  CheckpointManifest manifest;
  try {
    manifest = CheckpointManifest::parse(fuzz::as_text(data, size), "checkpoint.json");
  } catch (const gpm::InvalidArgument&) {
    return 0;
  }
  const std::string written = manifest.to_json().dump(2);
  const auto back = CheckpointManifest::parse(written, "written.json");
  fuzz::require(back.format == manifest.format && back.step == manifest.step && back.size == manifest.size &&
                    back.sha256 == manifest.sha256,
                "the manifest written, {}, reads back otherwise", written);
  fuzz::require(!manifest.mismatch(manifest.size, manifest.sha256), "a manifest does not describe its own size and digest");
  return 0;
}
