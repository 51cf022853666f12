// Sample-based evaluation metrics: energy distance, MMD, sliced Wasserstein distance, mode
// coverage for Gaussian-mixture benchmarks, the Fréchet distance and k-NN precision and recall of
// feature sets, and the image metrics computed through a classifier trained here (fd_lenet,
// confident fraction, class histogram). All compute in float64 and return doubles.
#pragma once

#include "gpm/metrics/class_predictions.hpp"
#include "gpm/metrics/energy_distance.hpp"
#include "gpm/metrics/frechet_distance.hpp"
#include "gpm/metrics/image_classifier.hpp"
#include "gpm/metrics/image_metrics.hpp"
#include "gpm/metrics/mmd.hpp"
#include "gpm/metrics/mode_coverage.hpp"
#include "gpm/metrics/precision_recall.hpp"
#include "gpm/metrics/sliced_wasserstein.hpp"
