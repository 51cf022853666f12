// A flow whose velocity takes one argument is rejected where the model is composed, and the
// compiler names the required expression.
// expected-error: required expression .*f\.velocity\(x, t\).* is invalid
#include "gpm/gpm.hpp"

struct OneArgumentFlow {
  torch::Tensor velocity(const torch::Tensor& x) { return x; }
};

int main() {
  gpm::ParticleModel model(OneArgumentFlow{}, gpm::Euler{}, gpm::UniformGrid(gpm::UniformGridOptions(4)),
                           gpm::GaussianPrior(gpm::GaussianPriorOptions({2})));
  (void)model;
}
