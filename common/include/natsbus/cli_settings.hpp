#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "natsbus/setting_value.hpp"

namespace natsbus {

// One command-line setting of either binary, declared once: its flag, its
// environment variable (if any), how its default (the Config's own
// initialiser) is shown in --help, and the check that turns a value into the
// Config. CLI11 does the parsing, the environment fallback and the help text.
template <typename Config>
struct Setting {
  enum class Kind {
    kValue,   // --name VALUE or --name=VALUE
    kSwitch,  // --name (true), or --name=true / --name=false
  };
  const char* flag;
  const char* env;  // nullptr: no environment variable
  const char* type;
  const char* help;
  std::function<std::string(const Config&)> shown;
  std::function<void(Config&, const SettingValue&)> apply;
  Kind kind = Kind::kValue;
};

// Declares a table of settings on a CLI11 app (or subcommand) and, after
// parsing, applies the ones given. Flags win over environment variables, which
// win over the defaults; a flag given twice takes its last value.
template <typename Config>
class SettingFlags {
 public:
  SettingFlags(CLI::App& app, const std::vector<Setting<Config>>& table, const Config& defaults)
      : table_(table) {
    for (const auto& setting : table_) {
      auto& raw = raw_[setting.flag];
      CLI::Option* option =
          setting.kind == Setting<Config>::Kind::kSwitch
              ? app.add_flag(std::string(setting.flag) + "{true}", raw, setting.help)
              : app.add_option(setting.flag, raw, setting.help)->type_name(setting.type);
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
      if (setting.env != nullptr) option->envname(setting.env);
      const auto shown = setting.shown(defaults);
      if (!shown.empty()) option->default_str(shown);
      options_[setting.flag] = option;
    }
  }
  // CLI11 holds references to the values below.
  SettingFlags(const SettingFlags&) = delete;
  SettingFlags& operator=(const SettingFlags&) = delete;

  // Applies every setting that was given to `config`; errors (ValidationError)
  // name the setting as the user gave it: the flag when it is in `args`, else
  // the environment variable.
  void apply(Config& config, const std::vector<std::string>& args) const {
    for (const auto& setting : table_) {
      if (options_.at(setting.flag)->count() == 0) continue;  // the default stands
      const bool from_flag = setting.env == nullptr || onCommandLine(args, setting.flag);
      setting.apply(config,
                    SettingValue{raw_.at(setting.flag), from_flag ? setting.flag : setting.env});
    }
  }

  static bool onCommandLine(const std::vector<std::string>& args, const std::string& flag) {
    for (const auto& arg : args) {
      if (arg == "--") break;
      if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
    }
    return false;
  }

 private:
  const std::vector<Setting<Config>>& table_;
  std::map<std::string, std::string> raw_;
  std::map<std::string, CLI::Option*> options_;
};

}  // namespace natsbus
