// The `dase` user commands. Each returns the process exit code and prints its own errors.
#pragma once

#include <string>

#include "control/config.h"
#include "control/layout.h"

namespace CLI {
class App;
}  // namespace CLI

namespace dase::cli {

// The data directory of --data-dir DIR (empty: $DASE_DATA_DIR or the default), absolute.
control::Layout LayoutForDataDir(const std::string& data_dir);

struct UpOptions {
  bool detach = false;
  int timeout_s = 60;
};

int Up(const control::Layout& layout, const control::ClusterConfig& config, const UpOptions& opts);
int Down(const control::Layout& layout, bool force, int timeout_s);
int ShowStatus(const control::Layout& layout, bool json);
int ClusterShow(const control::Layout& layout, bool json);
// verb: list | show | activate | deactivate; role: cnode | dnode.
int NodeCommand(const control::Layout& layout, const std::string& role, const std::string& verb,
                const std::string& name, bool json, bool wait);

// verb: put (data on stdin) | get (data on stdout) | ls | rm.
int EstoreCommand(const control::Layout& layout, const std::string& verb, const std::string& path);

// The object commands (objects_cmd.cc): `dase view|viewpolicy|user|vippool VERB ...` and
// `dase user access-key create|delete`; `result` receives the exit code.
void AddObjectCommands(CLI::App& app, int* result);

}  // namespace dase::cli
