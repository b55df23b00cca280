// s3_bench: S3 throughput and latency of a running cluster through its VIPs, beside the
// machine's own limits measured in the same run.
//
//   s3_bench --endpoints IP:PORT[,IP:PORT...] --access-key K --secret-key S --bucket B
//            [--data-dir D] [--seconds 5] [--runs 3] [--only large|small]
//            [--cnode-pids P,...] [--dnode-pids P,...]
//
// Prints PUT and GET MB/s for 8 MiB objects with 4 and 16 clients and PUT and GET ops/s for
// 4 KiB objects with 16 clients, each with p50/p99 latency, as the median of --runs runs of
// --seconds each after a short warm-up; runs of the different loads are interleaved so that a
// noisy neighbour spreads over all of them. Figures only; nothing here passes or fails (exit 1
// only if the bucket cannot be made).
//
// The load generator is meant to stay out of the way: one thread per client with one blocking
// keep-alive HTTP/1.1 connection, clients spread over the endpoints in the order given (the
// driver interleaves them across CNodes), SigV4 header signing by the project's own signer
// with UNSIGNED-PAYLOAD (no client-side hashing of bodies), request bodies sent from one
// buffer per client and response bodies read into one reused buffer and dropped. Each PUT
// stamps its identity into every 4 KiB of the body so that no two objects hold the same data.
// Its own CPU use is printed beside each figure, and with --cnode-pids / --dnode-pids the CPU
// time those processes spent per operation (utime + stime of all their threads over the phase,
// divided by the operations done): less sensitive to a noisy machine than the rates.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "limits.h"  // bench/limits.h
#include "s3/sigv4.h"

namespace dase {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using bench::Clock;
using bench::Median;
using bench::Seconds;

constexpr std::string_view kRegion = "us-east-1";
constexpr size_t kReadChunkBytes = 1 << 20;
constexpr size_t kErrorBodyBytesMax = 512;
constexpr uint64_t kLargeBytes = 8 << 20;
constexpr uint64_t kSmallBytes = 4 << 10;

struct Endpoint {
  tcp::endpoint address;
  std::string host;  // the Host header: "ip:port"
};

struct Reply {
  unsigned status = 0;  // 0: the connection failed
  uint64_t body_bytes = 0;
  std::string error;  // for status 0 or >= 300: what went wrong, for the first few messages
};

// One keep-alive HTTP/1.1 connection, used by one thread at a time, blocking. Reconnects on
// the next request after an I/O error or a response that closes the connection.
class Connection {
 public:
  Connection(Endpoint endpoint, s3::Credentials credentials)
      : endpoint_(std::move(endpoint)),
        credentials_(std::move(credentials)),
        scratch_(kReadChunkBytes) {}

  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    buffer_.clear();
  }

  // Sends one signed request with `body` and reads the whole response.
  Reply Send(http::verb verb, const std::string& target, std::string_view body) {
    Reply reply;
    boost::system::error_code ec;
    if (!socket_.is_open()) {
      socket_.connect(endpoint_.address, ec);
      if (ec) return Failed("connect", ec);
      socket_.set_option(tcp::no_delay(true), ec);
    }
    s3::SigV4Request to_sign{
        std::string(http::to_string(verb)), target, "", {{"host", endpoint_.host}}};
    auto signed_request =
        s3::SignRequest(to_sign, credentials_, kRegion, std::time(nullptr), s3::kUnsignedPayload,
                        &signing_keys_);
    if (!signed_request.ok()) return {0, 0, "sign: " + signed_request.status().ToString()};
    http::request<http::buffer_body> request{verb, target, 11};
    request.set(http::field::host, endpoint_.host);
    for (const auto& [name, value] : signed_request->headers) request.set(name, value);
    if (verb == http::verb::put) request.content_length(body.size());
    request.body().data = body.empty() ? nullptr : const_cast<char*>(body.data());
    request.body().size = body.size();
    request.body().more = false;
    http::write(socket_, request, ec);
    if (ec) return Failed("write", ec);

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    http::read_header(socket_, buffer_, parser, ec);
    if (ec) return Failed("read header", ec);
    reply.status = parser.get().result_int();
    if (reply.status < 300 && parser.content_length()) {
      // The common case, read past Beast: straight from the socket into the scratch buffer in
      // large reads, without the copy through the parser's buffer.
      uint64_t remaining = *parser.content_length();
      const size_t buffered = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), remaining));
      buffer_.consume(buffered);
      remaining -= buffered;
      reply.body_bytes = buffered;
      while (remaining > 0) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, scratch_.size()));
        const size_t got = socket_.read_some(asio::buffer(scratch_.data(), want), ec);
        if (ec) return Failed("read body", ec);
        remaining -= got;
        reply.body_bytes += got;
      }
      if (!parser.get().keep_alive()) Close();
      return reply;
    }
    while (!parser.is_done()) {
      parser.get().body().data = scratch_.data();
      parser.get().body().size = scratch_.size();
      http::read(socket_, buffer_, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return Failed("read body", ec);
      const size_t got = scratch_.size() - parser.get().body().size;
      if (reply.status >= 300 && reply.error.size() < kErrorBodyBytesMax) {
        reply.error.append(scratch_.data(), std::min(got, kErrorBodyBytesMax - reply.error.size()));
      }
      reply.body_bytes += got;
    }
    if (!parser.get().keep_alive()) Close();
    return reply;
  }

 private:
  Reply Failed(std::string_view what, const boost::system::error_code& ec) {
    Close();
    return {0, 0, std::string(what) + " " + endpoint_.host + ": " + ec.message()};
  }

  Endpoint endpoint_;
  s3::Credentials credentials_;
  s3::SigningKeyCache signing_keys_{4};  // one key a day, as SDKs keep it
  asio::io_context io_{1};
  tcp::socket socket_{io_};
  beast::flat_buffer buffer_;
  std::vector<char> scratch_;  // response bodies land here and are dropped
};

// One client: a connection and the body it sends.
struct Client {
  std::unique_ptr<Connection> connection;
  std::string body;
  uint64_t seed = 0;
  // Per phase:
  std::vector<float> latencies_ms;
  uint64_t ops = 0, bytes = 0, failures = 0, objects_written = 0;
};

void FillRandom(std::string& body, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= body.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(body.data() + i, &x, 8);
  }
}

// Makes this object's bytes unlike any other's: its identity in the first 8 bytes of each 4 KiB.
void Stamp(std::string& body, uint64_t id) {
  for (size_t i = 0; i + 8 <= body.size(); i += 4096) std::memcpy(body.data() + i, &id, 8);
}

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// User + system CPU seconds of every thread of the processes `pids`; a process that is gone
// counts as 0.
double ProcessCpuSeconds(const std::vector<int>& pids) {
  static const double ticks_per_s = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const size_t paren = line.rfind(')');  // the command name may hold spaces
    if (paren == std::string::npos) continue;
    std::istringstream fields(line.substr(paren + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15 of proc(5)
      if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
      if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    total += static_cast<double>(utime + stime) / ticks_per_s;
  }
  return total;
}

// The cluster processes whose CPU per operation is reported (may be empty).
struct WatchedPids {
  std::vector<int> cnodes, dnodes;
};

struct PhaseResult {
  double seconds = 0, ops_per_s = 0, mb_per_s = 0, p50_ms = 0, p99_ms = 0, client_cpu_pct = 0;
  double cnode_us_per_op = 0, dnode_us_per_op = 0;
  uint64_t failures = 0;
};

std::atomic<int> printed_errors{0};

void NoteFailure(Client& c, const Reply& r, const std::string& target) {
  ++c.failures;
  if (printed_errors.fetch_add(1) < 5) {
    std::fprintf(stderr, "  %s: HTTP %u %s\n", target.c_str(), r.status, r.error.c_str());
  }
}

struct Load {
  const char* name;  // "8 MiB"
  std::string tag;   // key prefix
  uint64_t object_bytes;
  int clients;
};

std::string Key(const std::string& bucket, const Load& load, int run, int client, uint64_t i) {
  return "/" + bucket + "/" + load.tag + "/r" + std::to_string(run) + "/w" +
         std::to_string(client) + "/" + std::to_string(i);
}

// Runs `load.clients` threads for `seconds`: PUTs of new objects, or GETs of the objects the
// same client wrote in the PUT phase of this run (cycling through them).
PhaseResult RunPhase(std::vector<Client>& clients, const std::string& bucket, const Load& load,
                     int run, http::verb verb, double seconds, const WatchedPids& watched) {
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const double cpu_start = CpuSeconds();
  const double cnode_cpu_start = ProcessCpuSeconds(watched.cnodes);
  const double dnode_cpu_start = ProcessCpuSeconds(watched.dnodes);
  std::vector<std::thread> threads;
  for (int w = 0; w < load.clients; ++w) {
    threads.emplace_back([&, w] {
      Client& c = clients[static_cast<size_t>(w)];
      c.connection->Close();  // a fresh connection per phase: never a stale keep-alive one
      c.latencies_ms.clear();
      c.ops = c.bytes = c.failures = 0;
      if (verb == http::verb::put) c.objects_written = 0;
      uint64_t i = 0;
      while (Clock::now() < deadline) {
        if (verb == http::verb::get && c.objects_written == 0) break;
        const uint64_t index = verb == http::verb::put ? i : i % c.objects_written;
        const std::string target = Key(bucket, load, run, w, index);
        std::string_view body;
        if (verb == http::verb::put) {
          Stamp(c.body, (static_cast<uint64_t>(run) << 56) | (static_cast<uint64_t>(w) << 40) | i);
          body = c.body;
        }
        const auto t0 = Clock::now();
        Reply r = c.connection->Send(verb, target, body);
        c.latencies_ms.push_back(static_cast<float>(Seconds(t0) * 1e3));
        ++i;
        if (r.status != 200 || (verb == http::verb::get && r.body_bytes != load.object_bytes)) {
          if (r.status == 200) r.error = "short body: " + std::to_string(r.body_bytes) + " bytes";
          NoteFailure(c, r, target);
          continue;
        }
        ++c.ops;
        c.bytes += load.object_bytes;
        if (verb == http::verb::put) c.objects_written = i;
      }
    });
  }
  for (auto& t : threads) t.join();
  PhaseResult out;
  out.seconds = Seconds(start);
  out.client_cpu_pct = (CpuSeconds() - cpu_start) / out.seconds * 100;
  const double cnode_cpu_s = ProcessCpuSeconds(watched.cnodes) - cnode_cpu_start;
  const double dnode_cpu_s = ProcessCpuSeconds(watched.dnodes) - dnode_cpu_start;
  std::vector<float> all;
  uint64_t ops = 0, bytes = 0;
  for (int w = 0; w < load.clients; ++w) {
    const Client& c = clients[static_cast<size_t>(w)];
    all.insert(all.end(), c.latencies_ms.begin(), c.latencies_ms.end());
    ops += c.ops, bytes += c.bytes, out.failures += c.failures;
  }
  out.ops_per_s = static_cast<double>(ops) / out.seconds;
  if (ops > 0) {
    out.cnode_us_per_op = cnode_cpu_s * 1e6 / static_cast<double>(ops);
    out.dnode_us_per_op = dnode_cpu_s * 1e6 / static_cast<double>(ops);
  }
  out.mb_per_s = static_cast<double>(bytes) / 1e6 / out.seconds;
  if (!all.empty()) {
    auto at = [&](double q) {
      auto nth = all.begin() + static_cast<ptrdiff_t>(q * static_cast<double>(all.size() - 1));
      std::nth_element(all.begin(), nth, all.end());
      return static_cast<double>(*nth);
    };
    out.p50_ms = at(0.50);
    out.p99_ms = at(0.99);
  }
  return out;
}

struct Options {
  std::vector<Endpoint> endpoints;
  s3::Credentials credentials;
  std::string bucket;
  std::string data_dir = "/tmp";
  double seconds = 5;
  int runs = 3;
  std::string only;  // "large", "small" or empty for both
  WatchedPids watched;
};

std::vector<Client> MakeClients(const Options& o, int count) {
  std::vector<Client> clients(static_cast<size_t>(count));
  for (int w = 0; w < count; ++w) {
    Client& c = clients[static_cast<size_t>(w)];
    c.connection = std::make_unique<Connection>(
        o.endpoints[static_cast<size_t>(w) % o.endpoints.size()], o.credentials);
    c.seed = static_cast<uint64_t>(w) + 1;
    c.latencies_ms.reserve(1 << 16);
  }
  return clients;
}

void SizeBodies(std::vector<Client>& clients, uint64_t object_bytes) {
  for (Client& c : clients) {
    if (c.body.size() == object_bytes) continue;
    c.body.assign(object_bytes, '\0');
    FillRandom(c.body, c.seed);
  }
}

bool EnsureBucket(const Options& o) {
  Connection connection(o.endpoints[0], o.credentials);
  Reply r = connection.Send(http::verb::put, "/" + o.bucket, {});
  if (r.status == 200 || r.error.find("BucketAlreadyOwnedByYou") != std::string::npos) return true;
  std::fprintf(stderr, "s3_bench: cannot create bucket %s: HTTP %u %s\n", o.bucket.c_str(),
               r.status, r.error.c_str());
  return false;
}

std::string Target(double figure, double target, const char* unit) {
  if (target <= 0) return "";
  char line[96];
  std::snprintf(line, sizeof(line), "  target >= %.0f %s: %s", target, unit,
                figure >= target ? "meets" : "MISSES");
  return line;
}

void Report(const Load& load, const char* op, const std::vector<PhaseResult>& runs, double target,
            const WatchedPids& watched) {
  std::vector<double> rate, p50, p99, cpu, cnode_us, dnode_us;
  uint64_t failures = 0;
  const bool large = load.object_bytes >= (1 << 20);
  for (const PhaseResult& r : runs) {
    rate.push_back(large ? r.mb_per_s : r.ops_per_s);
    p50.push_back(r.p50_ms), p99.push_back(r.p99_ms), cpu.push_back(r.client_cpu_pct);
    cnode_us.push_back(r.cnode_us_per_op), dnode_us.push_back(r.dnode_us_per_op);
    failures += r.failures;
  }
  const char* unit = large ? "MB/s " : "ops/s";
  std::printf(
      "  %-5s %s, %2d clients: %8.1f %s  p50 %7.2f ms  p99 %7.2f ms  "
      "(runs %.0f..%.0f; client CPU %3.0f %%; %llu failed)%s\n",
      load.name, op, load.clients, Median(rate), unit, Median(p50), Median(p99),
      *std::min_element(rate.begin(), rate.end()), *std::max_element(rate.begin(), rate.end()),
      Median(cpu), static_cast<unsigned long long>(failures),
      Target(Median(rate), target, unit).c_str());
  if (!watched.cnodes.empty() || !watched.dnodes.empty()) {
    std::printf("  %-5s %s CPU per op: CNodes %.0f us, DNodes %.0f us (medians; runs %.0f..%.0f us "
                "on the CNodes)\n",
                load.name, op, Median(cnode_us), Median(dnode_us),
                *std::min_element(cnode_us.begin(), cnode_us.end()),
                *std::max_element(cnode_us.begin(), cnode_us.end()));
  }
}

bool ParsePids(const std::string& list, std::vector<int>& out) {
  std::istringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    const int pid = std::atoi(item.c_str());
    if (pid <= 0) return false;
    out.push_back(pid);
  }
  return true;
}

bool ParseEndpoints(const std::string& list, std::vector<Endpoint>& out) {
  size_t pos = 0;
  while (pos < list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(pos, comma - pos);
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos) return false;
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(item.substr(0, colon), ec);
    if (ec) return false;
    out.push_back(
        {tcp::endpoint(ip, static_cast<uint16_t>(std::atoi(item.c_str() + colon + 1))), item});
    pos = comma + 1;
  }
  return !out.empty();
}

int Main(int argc, char** argv) {
  Options o;
  std::string endpoints;
  bool pids_ok = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--endpoints")
      endpoints = value;
    else if (flag == "--access-key")
      o.credentials.access_key_id = value;
    else if (flag == "--secret-key")
      o.credentials.secret_access_key = value;
    else if (flag == "--bucket")
      o.bucket = value;
    else if (flag == "--data-dir")
      o.data_dir = value;
    else if (flag == "--seconds")
      o.seconds = std::max(0.5, std::atof(value.c_str()));
    else if (flag == "--runs")
      o.runs = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--only")
      o.only = value;
    else if (flag == "--cnode-pids")
      pids_ok &= ParsePids(value, o.watched.cnodes);
    else if (flag == "--dnode-pids")
      pids_ok &= ParsePids(value, o.watched.dnodes);
  }
  if (!ParseEndpoints(endpoints, o.endpoints) || o.credentials.access_key_id.empty() ||
      o.bucket.empty() || !pids_ok) {
    std::fprintf(stderr,
                 "usage: s3_bench --endpoints IP:PORT[,IP:PORT...] --access-key K --secret-key S "
                 "--bucket B [--data-dir D] [--seconds 5] [--runs 3] [--only large|small] "
                 "[--cnode-pids P,...] [--dnode-pids P,...]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf(
      "s3_bench: %zu endpoints (%s ...), bucket %s, %u cores; median of %d runs of %.0f s "
      "after a warm-up\n",
      o.endpoints.size(), o.endpoints[0].host.c_str(), o.bucket.c_str(),
      std::thread::hardware_concurrency(), o.runs, o.seconds);
  const bench::MachineLimits limits = bench::MeasureAndPrintLimits(o.data_dir);
  if (!EnsureBucket(o)) return 1;

  std::vector<Load> loads;
  if (o.only.empty() || o.only == "large") {
    loads.push_back({"8 MiB", "8MiB-c4", kLargeBytes, 4});
    loads.push_back({"8 MiB", "8MiB-c16", kLargeBytes, 16});
  }
  if (o.only.empty() || o.only == "small") loads.push_back({"4 KiB", "4KiB-c16", kSmallBytes, 16});
  std::vector<Client> clients = MakeClients(o, 16);

  // Warm-up: connections, the CNodes' caches and allocators, the page cache of the drives.
  for (const Load& load : loads) {
    SizeBodies(clients, load.object_bytes);
    RunPhase(clients, o.bucket, load, 0, http::verb::put, 1, o.watched);
    RunPhase(clients, o.bucket, load, 0, http::verb::get, 1, o.watched);
  }
  printed_errors = 0;
  std::vector<std::vector<PhaseResult>> puts(loads.size()), gets(loads.size());
  for (int run = 1; run <= o.runs; ++run) {
    for (size_t l = 0; l < loads.size(); ++l) {
      SizeBodies(clients, loads[l].object_bytes);
      puts[l].push_back(
          RunPhase(clients, o.bucket, loads[l], run, http::verb::put, o.seconds, o.watched));
      gets[l].push_back(
          RunPhase(clients, o.bucket, loads[l], run, http::verb::get, o.seconds, o.watched));
    }
  }
  std::printf(
      "C++ load generator (SigV4 UNSIGNED-PAYLOAD, one keep-alive connection per client, "
      "clients spread over the endpoints):\n");
  for (size_t l = 0; l < loads.size(); ++l) {
    const bool small = loads[l].object_bytes < (1 << 20);
    Report(loads[l], "PUT", puts[l], small ? 4000 : 0, o.watched);
    Report(loads[l], "GET", gets[l], small ? 12000 : 0, o.watched);
  }
  std::printf("  (for 8 MiB objects, compare with min(fsync'd write, loopback TCP) = %.0f MB/s)\n",
              std::min(limits.fsync_write_mbs, limits.loopback_tcp_mbs));
  return 0;
}

}  // namespace
}  // namespace dase

int main(int argc, char** argv) { return dase::Main(argc, argv); }
