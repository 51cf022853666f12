// A model added to the runner through the registry alone: a generator trained by the MMD gradient
// flow towards each data batch (an interacting particle model), registered with one entry. The
// script toy_model_test.sh drives it through train, sample, resume and eval.
#include <gpm/flows/mmd_flow.hpp>
#include <gpm/generators/generator.hpp>
#include <gpm/models/interacting_particle_model.hpp>
#include <gpm/nn/mlp.hpp>

#include "../../examples/gpm/cli.hpp"
#include "../../examples/gpm/registry.hpp"

namespace {

struct ToyOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, width, Range::at_least(1), "hidden units per layer of the generator") = 32;
  GPM_OPTION(double, lr, Range::above(0), "the generator's Adam learning rate") = 5e-3;
  GPM_OPTIONS_END
};

using ToyModel = gpm::InteractingParticleModel<gpm::Generator<gpm::nn::Mlp, torch::optim::Adam>, gpm::MmdFlow<gpm::ImqKernel>>;

}  // namespace

int main(int argc, char** argv) {
  using namespace gpm::runner;
  using Config = RunConfig<ToyOptions>;
  register_model(model_entry<Config>(
      "toy-mmd", "a generator trained by the MMD flow", {{"default", {TrainSettings().steps(50), ToyOptions(), {}}}},
      [](const Config& c, BuildInputs in) {
        const gpm::ScopedGlobalSeed seed(c.train.seed());
        gpm::nn::Mlp net(gpm::nn::MlpOptions(4, in.dim).width(c.model.width()).depth(2));
        return std::make_unique<GeneratorRun<ToyModel>>(
            ToyModel({net, gpm::GaussianPrior(gpm::GaussianPriorOptions({4})), torch::optim::AdamOptions(c.model.lr())},
                     gpm::MmdFlow(gpm::ImqKernel()), gpm::InteractingParticleModelOptions().seed(c.train.seed())));
      }));
  return run_cli(argc, argv);
}
