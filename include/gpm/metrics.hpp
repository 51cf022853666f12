// Sample-based evaluation metrics: energy distance, MMD, sliced Wasserstein distance, and mode
// coverage for Gaussian-mixture benchmarks. All compute in float64 and return doubles.
#pragma once

#include "gpm/metrics/energy_distance.hpp"
#include "gpm/metrics/mmd.hpp"
#include "gpm/metrics/mode_coverage.hpp"
#include "gpm/metrics/sliced_wasserstein.hpp"
