// gpm: generative particle models on LibTorch. The umbrella header: the whole library.
#pragma once

#include "gpm/core.hpp"
#include "gpm/data.hpp"
#include "gpm/flows.hpp"
#include "gpm/generators.hpp"
#include "gpm/integrators.hpp"
#include "gpm/io.hpp"
#include "gpm/losses.hpp"
#include "gpm/metrics.hpp"
#include "gpm/models.hpp"
#include "gpm/nn.hpp"
