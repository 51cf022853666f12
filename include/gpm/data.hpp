// Datasets: the Dataset concept, 2-D toy distributions, point clouds from CSV files, MNIST and
// folders of images, standardized coordinates, the table of built-in datasets and dataset specs for
// command-line runners.
#pragma once

#include "gpm/data/any_dataset.hpp"
#include "gpm/data/csv.hpp"
#include "gpm/data/dataset.hpp"
#include "gpm/data/image_folder.hpp"
#include "gpm/data/mnist.hpp"
#include "gpm/data/point_cloud.hpp"
#include "gpm/data/registry.hpp"
#include "gpm/data/spec.hpp"
#include "gpm/data/spec_options.hpp"
#include "gpm/data/standardization.hpp"
#include "gpm/data/toy2d.hpp"
