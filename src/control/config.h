// ClusterConfig: the settings of one loopback cluster, kept in DIR/dase.toml.
//
// The first `dase up` writes the file from defaults and flags; later starts read it back, so
// a cluster keeps its shape and ports. Every role process reads it. Value type.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "env/env.h"

namespace dase::control {

struct RestartPolicy {
  int64_t backoff_initial_ms = 500;
  int64_t backoff_max_ms = 30000;
  // A process that exits this many times in a row, each within stable_after_ms of its start,
  // is FAILED and no longer restarted until it is activated again.
  int max_failures = 5;
  int64_t stable_after_ms = 10000;
};

struct ClusterConfig {
  std::string name = "dase";
  int cnodes = 4;
  int dnodes = 4;
  std::string api_host = "127.0.0.1";
  uint16_t api_port = 8443;  // 0 = any free port, chosen when the monitor starts
  uint16_t s3_port = 9000;
  uint16_t nfs_port = 20049;
  int64_t heartbeat_interval_ms = 1000;
  int64_t heartbeat_timeout_ms = 5000;
  int64_t stall_threshold_ms = 2000;  // an event loop late by more than this is a stall
  RestartPolicy restart;
  // Drives of every DNode: SSD drives are sparse files, so their sizes cost nothing until
  // written; SCM drives are written whole when created unless scm_preformat is false.
  int scm_drives = 1;
  int64_t scm_bytes = 256ll << 20;  // the write buffer (VAST: NVRAM)
  // Write the SCM drives' zeros when they are created, so that buffer writes overwrite
  // allocated blocks: on ext4 an fdatasync after an allocating write costs about twice the
  // CPU and time of one after an overwrite (bench/README.md). Costs scm_bytes of writes once.
  bool scm_preformat = true;
  int ssd_drives = 4;
  int64_t ssd_bytes = 4ll << 30;
  // Element store ([estore]): a stripe that is not full is written once the oldest buffered
  // data has waited flush_after_ms; stripes that lost data are swept every sweep_every_ms.
  int64_t flush_after_ms = 1000;
  int64_t sweep_every_ms = 5000;

  Status Validate() const;
  std::string ToToml() const;
  static Result<ClusterConfig> FromToml(std::string_view text);
};

// Reads DIR/dase.toml; NotFound if the cluster has never been started there.
Result<ClusterConfig> LoadConfig(env::Env* env, const std::string& path);
Status SaveConfig(env::Env* env, const std::string& path, const ClusterConfig& config);

}  // namespace dase::control
