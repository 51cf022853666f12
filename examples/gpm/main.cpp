// gpm: the command-line runner (see cli.hpp and docs/runner.md).
#include "cli.hpp"

int main(int argc, char** argv) { return gpm::runner::run_cli(argc, argv); }
