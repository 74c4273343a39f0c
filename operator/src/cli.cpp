#include "natsbus/operator/cli.hpp"

#include <iostream>

#include "natsbus/cli_settings.hpp"
#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/commands.hpp"
#include "natsbus/validation_error.hpp"
#include "natsbus/version.hpp"

namespace natsbus::op {

int runCli(const std::vector<std::string>& args) {
  CLI::App app(
      "natsbus-operator: turns NatsStreaming resources into running NATS Streaming servers\n"
      "and injects the natsbus sidecar into annotated pods.",
      "natsbus-operator");
  app.set_version_flag("--version", std::string("natsbus-operator ") + kVersion);
  app.require_subcommand(0, 1);

  auto* run = app.add_subcommand(
      "run", "run the controller (and the admission webhook) against a cluster until SIGTERM");
  run->allow_extras();
  const RunOptions defaults;
  const SettingFlags<RunOptions> run_flags(*run, runSettings(), defaults);

  std::string file;
  auto* render = app.add_subcommand(
      "render",
      "render -f FILE: print the objects the NatsStreaming resources in FILE become "
      "(YAML, no cluster needed; FILE - is stdin)");
  render->add_option("-f,--filename", file, "YAML or JSON NatsStreaming resources")
      ->required()
      ->type_name("FILE");
  BuildOptions build;
  render
      ->add_option("--sidecar-image", build.sidecar_image,
                   "image of the raft-readiness helper beside each server of a clustered bus, as "
                   "given to run (default " +
                       build.sidecar_image + ")")
      ->type_name("IMAGE")
      ->check([](const std::string& image) {
        return image.empty() ? std::string("--sidecar-image: must not be empty") : std::string();
      });

  // The command named in errors, e.g. "natsbus-operator run: --workers: ...".
  const auto fail = [&](const std::string& message) {
    const std::string command = run->parsed() ? " run" : render->parsed() ? " render" : "";
    std::cerr << "natsbus-operator" << command << ": " << message << "\n";
    return 2;
  };
  if (args.empty()) {
    std::cerr << app.help();
    return 2;
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();  // the help of the subcommand given, if any
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << "natsbus-operator " << kVersion << "\n";
    return 0;
  } catch (const CLI::ParseError& error) {
    return fail(error.what());
  }
  if (run->parsed()) {
    if (!run->remaining().empty())
      return fail(run->remaining().front() + ": unknown flag or argument (see run --help)");
    RunOptions options;
    try {
      run_flags.apply(options, args);
      checkRunOptions(options);
    } catch (const ValidationError& error) {
      return fail(error.what());
    }
    return runOperatorCommand(options);
  }
  if (render->parsed()) return runRenderCommand(file, build);
  std::cerr << app.help();
  return 2;
}

}  // namespace natsbus::op
