// gpm: the command-line runner. Trains the registry's models on 2-D data, point clouds or images,
// resumes them, samples them, evaluates samples, and runs the demo that compares them all. `run_cli` is the
// whole program (cli.cpp, in the library gpm_cli): the runner's main calls it, and a program that
// registers a model of its own (register_model, registry.hpp) before calling it gets every command for
// that model too.
#pragma once

namespace gpm::runner {

/// The gpm command line: parses argv and runs the command; returns the exit code.
int run_cli(int argc, char** argv);

}  // namespace gpm::runner
