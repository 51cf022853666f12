// Files: whole-file reads and atomic writes, JSON configurations, checkpoint files, NumPy .npy
// arrays, and the image decoder slot. PNG/JPEG files (gpm/io/image_files.hpp, image_grid.hpp) need
// the target gpm::images and are included on their own.
#pragma once

#include "gpm/io/checkpoint.hpp"
#include "gpm/io/config.hpp"
#include "gpm/io/files.hpp"
#include "gpm/io/image_decoder.hpp"
#include "gpm/io/npy.hpp"
