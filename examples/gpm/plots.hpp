// The runner's figures of a run: on 2-D data, generation (or training) snapshots with velocities, a
// final generated-versus-data scatter and the discriminator's field; on images, a sample grid, the
// generation strip and a generator's latent interpolations; training curves from log.jsonl for both.
#pragma once

#include <algorithm>
#include <fstream>
#include <map>

#include <gpm/generators/latent_interpolation.hpp>
#include <gpm/io/image_grid.hpp>
#include <gpm/plot/figures.hpp>

#include "run.hpp"
#include "training.hpp"

namespace gpm::runner {

/// Training curves: every numeric field of log.jsonl, and the evaluations' metrics.
inline std::map<std::string, std::vector<std::pair<double, double>>> read_log(const fs::path& path) {
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const json entry = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!entry.is_object() || !entry.contains("step")) continue;
    const double step = entry.at("step").get<double>();
    if (entry.contains("eval")) {
      for (const auto& [key, value] : entry["eval"].items())
        if (key != "modes" && key != "seconds" && value.is_number())
          series["eval: " + key].emplace_back(step, value.get<double>());
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

/// The generation strip of a particle model on images: `particles` rows, each one particle's state at
/// `columns` evenly spaced generation steps from the prior to the last (the source paper's Figure 1).
inline bool image_generation_strip(const fs::path& path, Run& run, const ImageShape& shape, int64_t particles = 8,
                                   size_t columns = 10) {
  const auto tr = run.trajectory(particles);
  if (!tr) return false;
  const auto picks = evenly_spaced(tr->states.size(), columns);
  std::vector<torch::Tensor> rows;
  for (int64_t p = 0; p < particles; ++p)
    for (size_t k : picks) rows.push_back(tr->states[k].slice(0, p, p + 1));
  io::write_image_grid(path.string(), torch::cat(rows), shape,
                       io::ImageGridOptions().columns(static_cast<int64_t>(picks.size())));
  return true;
}

/// A generator's decoded latent paths: for each interpolation kind, `pairs` rows of `columns` images
/// from the same latent pairs, so that the kinds compare row against row. False for a particle model.
inline bool image_interpolation_grid(const fs::path& path, Run& run, const ImageShape& shape, int64_t pairs = 2,
                                     int64_t columns = 10) {
  if (run.latent_dim() == 0) return false;
  const auto ends = run.latents(2 * pairs, 0);
  std::vector<torch::Tensor> rows;
  for (const auto kind : all_interpolations) {
    const auto path_latents = interpolate_latents(ends.slice(0, 0, pairs), ends.slice(0, pairs), columns, kind);
    rows.push_back(run.generate(path_latents.flatten(0, 1)));
  }
  io::write_image_grid(path.string(), torch::cat(rows), shape, io::ImageGridOptions().columns(columns));
  return true;
}

/// n samples of `run` to draw (seed 0, as sample_aside); samples that are not numbers are a
/// RuntimeError ending with `advice`, since a figure of them would show nothing of the model.
inline torch::Tensor samples_to_draw(Run& run, int64_t n, const std::string& advice) {
  auto x = sample_aside(run, n, 0);
  if (const auto bad = non_finite_samples(x))
    throw RuntimeError(fmt::format("the model's samples hold {}; there is nothing to draw. To train it again: {}", *bad, advice));
  return x;
}

/// Writes the figures of a run on images into `out` and returns their paths.
inline std::vector<fs::path> plot_image_run(Run& run, const ImageShape& shape, const fs::path& out, const std::string& advice) {
  std::vector<fs::path> written;
  io::write_image_grid((out / "samples.png").string(), samples_to_draw(run, 64, advice), shape);
  written.push_back(out / "samples.png");
  if (image_generation_strip(out / "generation.png", run, shape)) written.push_back(out / "generation.png");
  if (image_interpolation_grid(out / "interpolations.png", run, shape)) written.push_back(out / "interpolations.png");
  return written;
}

/// Writes the run's figures into `out` and returns their paths.
inline std::vector<fs::path> plot_run(const fs::path& dir, Run& run, const json& info, const data::AnyDataset& data,
                                      const fs::path& out) {
  fs::create_directories(out);
  std::vector<fs::path> written;
  const auto model = info.at("model").get<std::string>();
  const auto advice = divergence_advice(info.at("config"));
  auto gen = make_generator(777);
  const auto reference = data.sample(data.has_image_shape() ? 64 : 2000, gen);

  if (data.has_image_shape()) {
    for (auto& f : plot_image_run(run, data.image_shape(), out, advice)) written.push_back(std::move(f));
  } else if (data.dim() == 2) {
    plot::scatter_comparison(out / "final.png", samples_to_draw(run, 2000, advice), reference, model + ": generated vs data");
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
      if (visible.empty()) visible.push_back(tr->states.size() - 1);  // samples far wider than the data: the last state
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
      const auto x = samples_to_draw(run, 1000, advice);
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
