#include "cli/cli.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "control/config.h"
#include "control/layout.h"
#include "env/env.h"
#include "node/node.h"
#include "vms/vms.h"

namespace dase::cli {

control::Layout LayoutForDataDir(const std::string& data_dir) {
  return control::Layout{
      control::AbsolutePath(data_dir.empty() ? control::DefaultDataDir() : data_dir)};
}

namespace {

struct Flags {
  std::string data_dir;
  bool json = false;
  bool detach = false;
  bool force = false;
  bool no_wait = false;
  int timeout_s = 60;
  std::string name;
  std::string config_file;
  int cnodes = 0, dnodes = 0;
  int api_port = -1;
  std::string api_host;
  // internal roles
  int api_fd = -1, rpc_fd = -1;
  int monitor_port = 0, vms_port = 0;
};

control::Layout LayoutOf(const Flags& f) { return LayoutForDataDir(f.data_dir); }

void AddDataDir(CLI::App* cmd, Flags& f) {
  cmd->add_option("--data-dir", f.data_dir,
                  "cluster data directory (default $DASE_DATA_DIR or ~/.local/share/dase)");
}

// The configuration for `up`: the cluster's saved file, else --config, else defaults; then flags.
Result<control::ClusterConfig> UpConfig(const control::Layout& layout, const Flags& f) {
  env::Env* env = env::Env::Default();
  control::ClusterConfig c;
  std::string path = f.config_file.empty() ? layout.Config() : f.config_file;
  auto loaded = control::LoadConfig(env, path);
  if (loaded.ok()) {
    c = *loaded;
  } else if (loaded.status().code() != Code::kNotFound || !f.config_file.empty()) {
    return loaded.status();
  }
  if (f.cnodes > 0) c.cnodes = f.cnodes;
  if (f.dnodes > 0) c.dnodes = f.dnodes;
  if (f.api_port >= 0) c.api_port = static_cast<uint16_t>(f.api_port);
  if (!f.api_host.empty()) c.api_host = f.api_host;
  RETURN_IF_ERROR(c.Validate());
  return c;
}

void AddNodeCommands(CLI::App& app, Flags& f, const char* role, int* result) {
  CLI::App* group = app.add_subcommand(role, std::string("manage ") + role + "s");
  group->require_subcommand(1);
  for (const char* verb : {"list", "show", "activate", "deactivate"}) {
    CLI::App* cmd = group->add_subcommand(verb, std::string(verb) + " " + role + "s");
    AddDataDir(cmd, f);
    if (std::string(verb) != "list") cmd->add_option("--name", f.name, "node name")->required();
    if (std::string(verb) == "list" || std::string(verb) == "show") {
      cmd->add_flag("--json", f.json, "print JSON");
    } else {
      cmd->add_flag("--no-wait", f.no_wait, "return once the task has started");
    }
    cmd->callback([&f, role, verb, result] {
      *result = NodeCommand(LayoutOf(f), role, verb, f.name, f.json, !f.no_wait);
    });
  }
}

void AddEstoreCommands(CLI::App& app, Flags& f, int* result) {
  CLI::App* group = app.add_subcommand("estore", "the element store through a running CNode");
  group->require_subcommand(1);
  const std::pair<const char*, const char*> verbs[] = {
      {"put", "store stdin as the file PATH (creating directories)"},
      {"get", "write the file PATH to stdout"},
      {"ls", "list the directory PATH"},
      {"rm", "remove the file or empty directory PATH"}};
  for (const auto& [verb, help] : verbs) {
    CLI::App* cmd = group->add_subcommand(verb, help);
    AddDataDir(cmd, f);
    cmd->add_option("path", f.name, "path in the element store")->required();
    cmd->callback([&f, verb = std::string(verb), result] {
      *result = EstoreCommand(LayoutOf(f), verb, f.name);
    });
  }
}

void AddRoleCommands(CLI::App& app, Flags& f, int* result) {
  CLI::App* role = app.add_subcommand("role", "internal: a process the monitor starts");
  role->group("");  // hidden from --help
  role->require_subcommand(1);
  CLI::App* vms = role->add_subcommand("vms", "the management service");
  AddDataDir(vms, f);
  vms->add_option("--api-fd", f.api_fd)->required();
  vms->add_option("--rpc-fd", f.rpc_fd)->required();
  vms->add_option("--monitor-port", f.monitor_port)->required();
  vms->callback([&f, result] {
    *result = vms::RunVms(LayoutOf(f), f.api_fd, f.rpc_fd, static_cast<uint16_t>(f.monitor_port));
  });
  for (const char* name : {"cnode", "dnode"}) {
    CLI::App* node = role->add_subcommand(name, std::string("a ") + name);
    AddDataDir(node, f);
    node->add_option("--name", f.name)->required();
    node->add_option("--vms-port", f.vms_port)->required();
    node->callback([&f, name, result] {
      *result = node::RunNode(name, LayoutOf(f), f.name, static_cast<uint16_t>(f.vms_port));
    });
  }
}

}  // namespace

int Main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  Flags f;
  int result = 0;
  CLI::App app{"dase: a disaggregated shared-everything storage cluster on one machine"};
  app.require_subcommand(1);

  CLI::App* up = app.add_subcommand("up", "start a loopback cluster (Ctrl-C stops it)");
  AddDataDir(up, f);
  up->add_flag("--detach,-d", f.detach, "run in the background; return once ONLINE");
  up->add_option("--timeout", f.timeout_s, "seconds to wait for ONLINE")->check(CLI::Range(1, 3600));
  up->add_option("--config", f.config_file, "a dase.toml to start a new cluster from");
  up->add_option("--cnodes", f.cnodes, "number of CNodes (default 4)")->check(CLI::Range(1, 64));
  up->add_option("--dnodes", f.dnodes, "number of DNodes (default 4)")->check(CLI::Range(1, 64));
  up->add_option("--api-host", f.api_host, "VMS API address (default 127.0.0.1)");
  up->add_option("--api-port", f.api_port, "VMS API port (default 8443; 0 = any free port)")
      ->check(CLI::Range(0, 65535));
  up->callback([&] {
    control::Layout layout = LayoutOf(f);
    auto config = UpConfig(layout, f);
    if (!config.ok()) {
      std::cerr << "dase: " << config.status().message() << "\n";
      result = 2;
      return;
    }
    result = Up(layout, *config, UpOptions{f.detach, f.timeout_s});
  });

  CLI::App* down = app.add_subcommand("down", "stop the cluster gracefully");
  AddDataDir(down, f);
  down->add_flag("--force", f.force, "kill every process at once");
  down->add_option("--timeout", f.timeout_s, "seconds to wait")->check(CLI::Range(1, 3600));
  down->callback([&] { result = Down(LayoutOf(f), f.force, f.timeout_s); });

  CLI::App* status = app.add_subcommand("status", "the cluster's and every node's state");
  AddDataDir(status, f);
  status->add_flag("--json", f.json, "print JSON");
  status->callback([&] { result = ShowStatus(LayoutOf(f), f.json); });

  CLI::App* cluster = app.add_subcommand("cluster", "the cluster object");
  cluster->require_subcommand(1);
  CLI::App* show = cluster->add_subcommand("show", "show the cluster");
  AddDataDir(show, f);
  show->add_flag("--json", f.json, "print JSON");
  show->callback([&] { result = ClusterShow(LayoutOf(f), f.json); });

  AddNodeCommands(app, f, "cnode", &result);
  AddNodeCommands(app, f, "dnode", &result);
  AddEstoreCommands(app, f, &result);
  AddObjectCommands(app, &result);
  AddRoleCommands(app, f, &result);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // CLI11 reports usage errors by exception: handled at this boundary
  }
  return result;
}

}  // namespace dase::cli
