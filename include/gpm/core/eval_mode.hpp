// Evaluation mode for the scope of an object: what sampling a trained network needs (dropout off,
// batch norm on its running statistics), with each module's own mode restored afterwards.
#pragma once

#include <memory>
#include <vector>

#include <torch/nn/module.h>

namespace gpm {

/// While alive, `module` and its submodules are in eval mode; each gets its own mode back at the end
/// of the scope. Example: `{ EvalMode eval(*net); y = net->forward(z); }`
class [[nodiscard]] EvalMode {
 public:
  explicit EvalMode(torch::nn::Module& module) : root_(&module), submodules_(module.modules(/*include_self=*/false)) {
    was_training_.push_back(root_->is_training());
    for (const auto& m : submodules_) was_training_.push_back(m->is_training());
    root_->eval();
  }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;
  ~EvalMode() {
    // train() recurses into children; submodules come parent first, so each ends with its own mode.
    root_->train(was_training_.front());
    for (size_t i = 0; i < submodules_.size(); ++i) submodules_[i]->train(was_training_[i + 1]);
  }

 private:
  torch::nn::Module* root_;
  std::vector<std::shared_ptr<torch::nn::Module>> submodules_;
  std::vector<bool> was_training_;
};

}  // namespace gpm
