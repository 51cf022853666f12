// The runner's figures of a run: generation (or training) snapshots with velocities, a final
// generated-versus-data scatter, the discriminator's field, and training curves from log.jsonl.
#pragma once

#include <algorithm>
#include <fstream>
#include <map>

#include <gpm/plot/figures.hpp>

#include "run.hpp"
#include "training.hpp"

namespace gpm::runner {

/// Training curves: every numeric field of log.jsonl, and the evaluations' energy distance.
inline std::map<std::string, std::vector<std::pair<double, double>>> read_log(const fs::path& path) {
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const json entry = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!entry.is_object() || !entry.contains("step")) continue;
    const double step = entry.at("step").get<double>();
    if (entry.contains("eval")) {
      if (entry["eval"].contains("energy_distance"))
        series["eval: energy distance"].emplace_back(step, entry["eval"]["energy_distance"].get<double>());
      continue;
    }
    for (const auto& [key, value] : entry.items())
      if (key != "step" && key != "time" && value.is_number()) series[key].emplace_back(step, value.get<double>());
  }
  return series;
}

/// Up to `count` evenly spaced indices of [0, size), always including the last.
inline std::vector<size_t> evenly_spaced(size_t size, size_t count) {
  std::vector<size_t> picks;
  if (size == 0) return picks;
  count = std::min(count, size);
  for (size_t i = 0; i < count; ++i)
    picks.push_back(count == 1 ? size - 1 : i * (size - 1) / (count - 1));
  return picks;
}

/// Writes the run's figures into `out` and returns their paths.
inline std::vector<fs::path> plot_run(const fs::path& dir, Run& run, const json& info, const data::AnyDataset& data,
                                      const fs::path& out) {
  fs::create_directories(out);
  std::vector<fs::path> written;
  const auto model = info.at("model").get<std::string>();
  auto gen = make_generator(777);
  const auto reference = data.sample(2000, gen);

  if (data.dim() == 2) {
    plot::scatter_comparison(out / "final.png", sample_aside(run, 2000, 0), reference, model + ": generated vs data");
    written.push_back(out / "final.png");

    std::vector<torch::Tensor> states, velocities;
    std::vector<std::string> titles;
    std::function<torch::Tensor(const torch::Tensor&, size_t)> background;
    std::string title;
    if (auto tr = run.trajectory(1000)) {
      // Generation time. States far wider than the data (EDM's first noise levels) would shrink the
      // view to nothing; the strip starts where the particles are within a data width and a half.
      const double data_spread = reference.std().item<double>();
      std::vector<size_t> visible;
      for (size_t i = 0; i < tr->states.size(); ++i)
        if (tr->states[i].std().item<double>() < 1.5 * data_spread) visible.push_back(i);
      std::vector<double> times;
      for (size_t k : evenly_spaced(visible.size(), 6)) {
        const size_t i = visible[k];
        states.push_back(tr->states[i]);
        velocities.push_back(i < tr->velocities.size() ? tr->velocities[i] : torch::Tensor());
        times.push_back(tr->times[i]);
        titles.push_back(fmt::format("{} = {:.3g}", run.time_name(), tr->times[i]));
      }
      const bool shaded = run.generator_loss(reference.slice(0, 0, 1), times.front()).defined();
      title = model + ": generation, particles and velocities" + (shaded ? " over the generator loss c(f(x, t))" : "");
      if (shaded)
        background = [&run, times](const torch::Tensor& points, size_t panel) { return run.generator_loss(points, times[panel]); };
    } else {
      // A generator: its particles along training time, from the snapshots of the evaluations.
      std::vector<fs::path> files, fields;
      if (fs::is_directory(RunFiles{dir}.snapshots()))
        for (const auto& entry : fs::directory_iterator(RunFiles{dir}.snapshots()))
          if (entry.path().extension() == ".csv") files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (size_t k : evenly_spaced(files.size(), 6)) {
        const auto table = data::PointCloud::from_csv(files[k].string()).points();
        states.push_back(table.slice(1, 0, 2));
        velocities.push_back(table.slice(1, 2, 4));
        titles.push_back(fmt::format("step {}", snapshot_step(files[k])));
        fields.push_back(fs::path(files[k]).replace_extension(".field.pt"));
      }
      const bool shaded = run.field_follows_training() &&
                          std::all_of(fields.begin(), fields.end(), [](const fs::path& f) { return fs::exists(f); });
      title = model + ": training, particles and velocities" + (shaded ? " over c(f(x)) at each step" : "");
      // The discriminator of each snapshot gives its panel's shading; the final one is restored after.
      if (shaded) {
        background = [&run, fields](const torch::Tensor& points, size_t panel) {
          run.load_field(fields[panel]);
          return run.generator_loss(points, 0.0);
        };
      }
    }
    if (!states.empty()) {
      const auto final_field = out / ".final_field.pt";
      if (background && run.field_follows_training()) run.save_field(final_field);
      plot::generation_strip(out / "generation.png", states, velocities, titles, reference, background, title);
      if (fs::exists(final_field)) {
        run.load_field(final_field);
        fs::remove(final_field);
      }
      written.push_back(out / "generation.png");
    }
    if (run.field_follows_training()) {
      const auto x = sample_aside(run, 1000, 0);
      plot::generation_strip(out / "field.png", {x}, {run.velocity(x, 0.0)}, {"shading: c(f(x))"}, reference,
                             [&run](const torch::Tensor& points, size_t) { return run.generator_loss(points, 0.0); },
                             model + ": final field");
      written.push_back(out / "field.png");
    }
  }
  const auto curves = read_log(RunFiles{dir}.log());
  if (!curves.empty()) {
    plot::loss_curves(out / "losses.png", curves, model + ": training curves");
    written.push_back(out / "losses.png");
  }
  return written;
}

}  // namespace gpm::runner
