// Precompiled header of the test executable: the heavy third-party headers, parsed once.
// LibTorch comes first: glog defines CHECK too, and Catch's definition must win.
#pragma once
#include <torch/torch.h>
#include <catch2/catch.hpp>
