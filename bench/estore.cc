// estore_bench: element-store throughput through the real CNode and DNode processes of a
// running cluster, beside the machine's own limits measured in the same run.
//
//   estore_bench --data-dir D [--only seq|small] [--repeat N] [--small-writers N (16)]
//
// Prints: sequential write and read MB/s for 1 MiB and 64 KiB objects with 4 writers, 4 KiB
// create+write ops/s with 16 writers (each object is a new file: data in the write buffer of two
// DNodes, fsync'd, then a metadata commit; objects of 512 KiB and more go to stripes instead), and the limits: fsync'd sequential writes to a local file and
// loopback TCP throughput. Figures only; nothing here passes or fails.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "cli/api_client.h"
#include "common/asio.h"
#include "estore/service.h"
#include "rpc/client.h"
#include "rpc/methods.h"

#include "limits.h"  // bench/limits.h

namespace dase {
namespace {

using bench::Clock;
using bench::Median;
using bench::Seconds;

// Runs `writers` coroutines, each doing `ops` calls made by `make(writer, i)`, round-robin over
// the CNodes. Returns {seconds, failures}.
template <typename Make>
std::pair<double, int> RunLoad(const std::vector<uint16_t>& ports, int writers, int ops,
                               rpc::Method method, Make make) {
  asio::io_context io(1);
  std::vector<std::unique_ptr<rpc::Client>> clients;
  for (uint16_t p : ports) clients.push_back(std::make_unique<rpc::Client>(io, "127.0.0.1", p));
  int failures = 0;
  int running = writers;
  auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    asio::co_spawn(
        io,
        [&, w]() -> awaitable<void> {
          rpc::Client& client = *clients[static_cast<size_t>(w) % clients.size()];
          for (int i = 0; i < ops; ++i) {
            std::string payload = make(w, i);
            auto r = co_await client.Call(method, payload, std::chrono::seconds(60));
            if (!r.ok()) {
              if (++failures <= 3) std::fprintf(stderr, "  call failed: %s\n", r.status().ToString().c_str());
            }
          }
          // Idle connections keep the io_context running: close them after the last writer.
          if (--running == 0) {
            for (auto& c : clients) c->Close();
          }
        },
        asio::detached);
  }
  io.run();
  return {Seconds(start), failures};
}

void Sequential(const std::vector<uint16_t>& ports, uint64_t object_bytes, int objects_per_writer,
                const std::string& tag, int repeat) {
  const int writers = 4;
  std::string data(object_bytes, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + 7);
  std::vector<double> writes, reads;
  int failures = 0;
  for (int r = 0; r < repeat; ++r) {
    auto path = [&](int w, int i) {
      return "/bench/" + tag + "/r" + std::to_string(r) + "/w" + std::to_string(w) + "/" + std::to_string(i);
    };
    auto [write_s, write_fail] = RunLoad(ports, writers, objects_per_writer, rpc::Method::kEstorePut,
                                         [&](int w, int i) { return estore::EncodePutRequest(path(w, i), data); });
    auto [read_s, read_fail] = RunLoad(ports, writers, objects_per_writer, rpc::Method::kEstoreGet,
                                       [&](int w, int i) { return estore::EncodePathRequest(path(w, i)); });
    double mb = static_cast<double>(object_bytes) * writers * objects_per_writer / 1e6;
    writes.push_back(mb / write_s);
    reads.push_back(mb / read_s);
    failures += write_fail + read_fail;
  }
  std::printf("  %-8s objects, 4 writers: write %8.1f MB/s   read %8.1f MB/s   (%d failures)\n",
              tag.c_str(), Median(writes), Median(reads), failures);
}

int Main(int argc, char** argv) {
  std::string data_dir;
  std::string only;  // "seq", "small" or empty for everything
  int repeat = 5;
  int small_writers = 16;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--small-writers") == 0) small_writers = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--data-dir") == 0) data_dir = argv[i + 1];
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
    if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::max(1, std::atoi(argv[i + 1]));
  }
  if (data_dir.empty()) {
    std::fprintf(stderr, "usage: estore_bench --data-dir DIR (of a running cluster) "
                         "[--only seq|small] [--repeat N] [--small-writers N]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  control::Layout layout{data_dir};
  auto api = cli::ApiClient::Open(layout);
  if (!api.ok()) {
    std::fprintf(stderr, "%s\n", api.status().ToString().c_str());
    return 1;
  }
  auto cnodes = api->Get("cnodes/?state=ACTIVE");
  if (!cnodes.ok()) return 1;
  std::vector<uint16_t> ports;
  for (const auto& n : cnodes->as_array()) ports.push_back(static_cast<uint16_t>(n.at("data_tcp_port").as_int64()));
  std::printf("estore_bench: %zu ACTIVE cnodes, %u cores; median of %d runs after a warm-up\n",
              ports.size(), std::thread::hardware_concurrency(), repeat);
  const bench::MachineLimits limits = bench::MeasureAndPrintLimits(data_dir);
  double limit = std::min(limits.fsync_write_mbs, limits.loopback_tcp_mbs);
  std::printf("  large writes go to 12+4 stripes (16 bytes stored per 12 written), so the write\n"
              "  bound is min(disk, TCP) x 12/16 = %.1f MB/s; target >= 50 %% of it = %.1f MB/s\n",
              limit * 12 / 16, limit * 12 / 16 / 2);
  if (only.empty() || only == "seq") {
    Sequential(ports, 1 << 20, 8, "warmup", 1);
    std::printf("element store:\n");
    Sequential(ports, 1 << 20, 64, "1MiB", repeat);
    Sequential(ports, 64 << 10, 256, "64KiB", repeat);
  }
  if (only.empty() || only == "small") {
    std::string small(4096, 's');
    const int writers = small_writers, per_writer = 2048 / small_writers + 1;
    std::vector<double> rates;
    for (int r = 0; r <= repeat; ++r) {  // run 0 warms up
      auto [s, fail] = RunLoad(ports, writers, per_writer, rpc::Method::kEstorePut, [&](int w, int i) {
        return estore::EncodePutRequest("/bench/small/r" + std::to_string(r) + "/w" + std::to_string(w) +
                                            "-" + std::to_string(i), small);
      });
      if (fail > 0) std::printf("  (%d failures in run %d)\n", fail, r);
      if (r > 0) rates.push_back(writers * per_writer / s);
    }
    std::printf("  4 KiB create+write, %d writers: %8.0f ops/s (runs %.0f .. %.0f)  target >= 3,900\n",
                writers, Median(rates), *std::min_element(rates.begin(), rates.end()),
                *std::max_element(rates.begin(), rates.end()));
  }
  return 0;
}

}  // namespace
}  // namespace dase

int main(int argc, char** argv) { return dase::Main(argc, argv); }
