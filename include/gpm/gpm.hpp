// gpm: generative particle models on LibTorch. The umbrella header: includes the whole library
// except opt-in features with extra dependencies.
#pragma once

#include "gpm/core.hpp"
#include "gpm/flows.hpp"
#include "gpm/generators.hpp"
#include "gpm/integrators.hpp"
#include "gpm/models.hpp"
