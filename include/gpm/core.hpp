// Options of optimisers, concepts and optional capabilities (and the base that forwards them), errors, tensor helpers,
// kernels and the squared MMD, matrix products on oneDNN, randomness and its batch shards, dropout, nearest-neighbour
// upsampling, data-parallel gradients, time grids, priors, weight averages, archive helpers and CPU settings.
#pragma once

#include "gpm/core/adam_options.hpp"
#include "gpm/core/archive.hpp"
#include "gpm/core/batch_shard.hpp"
#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/cpu_runtime.hpp"
#include "gpm/core/data_parallel.hpp"
#include "gpm/core/dropout.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/eval_mode.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/core/fused_adam.hpp"
#include "gpm/core/gradient_buckets.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/kernels.hpp"
#include "gpm/core/linear_leaky_relu.hpp"
#include "gpm/core/nearest_upsample.hpp"
#include "gpm/core/onednn_matmul.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/core/time_grids.hpp"
#include "gpm/core/torch_compat.hpp"
#include "gpm/core/weight_average.hpp"
