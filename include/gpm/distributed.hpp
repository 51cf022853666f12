// Data-parallel training across processes and machines on c10d (link gpm::distributed).
#pragma once

#include "gpm/distributed/process_group.hpp"
