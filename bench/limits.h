// The machine's own limits, measured in the same run as a benchmark so that its figures can be
// read against them: fsync'd sequential writes to a local file and loopback TCP throughput.
// Shared by the benchmarks that print them (estore_bench, s3_bench).
//
// Thread-safety: free functions without shared state; each blocks its caller while it measures.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.h"

namespace dase::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// MB/s of 64 x 1 MiB writes, each followed by fdatasync, to a new file in `dir`; 0 if the file
// cannot be made.
inline double FsyncWriteMBs(const std::string& dir) {
  std::string path = dir + "/bench_limits.fsync";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 0;
  std::string block(1 << 20, 'x');
  const int n = 64;
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (::write(fd, block.data(), block.size()) < 0 || ::fdatasync(fd) != 0) break;
  }
  double s = Seconds(start);
  ::close(fd);
  ::unlink(path.c_str());
  return n * 1.048576 / s;
}

// MB/s of 1 GiB sent over one loopback TCP connection to a reader thread.
inline double LoopbackTcpMBs() {
  asio::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket in(io), out(io);
  out.connect(acceptor.local_endpoint());
  acceptor.accept(in);
  const size_t total = 1ull << 30;
  std::thread reader([&] {
    std::vector<char> buf(1 << 20);
    size_t got = 0;
    boost::system::error_code ec;
    while (got < total && !ec) got += in.read_some(asio::buffer(buf), ec);
  });
  std::string block(1 << 20, 'y');
  auto start = Clock::now();
  for (size_t sent = 0; sent < total; sent += block.size()) asio::write(out, asio::buffer(block));
  reader.join();
  return static_cast<double>(total) / 1e6 / Seconds(start);
}

struct MachineLimits {
  double fsync_write_mbs = 0;
  double loopback_tcp_mbs = 0;
};

// Medians of `runs` measurements of each, the file written in `dir`; prints them.
inline MachineLimits MeasureAndPrintLimits(const std::string& dir, int runs = 3) {
  std::vector<double> disk, net;
  for (int r = 0; r < runs; ++r) {
    disk.push_back(FsyncWriteMBs(dir));
    net.push_back(LoopbackTcpMBs());
  }
  MachineLimits limits{Median(disk), Median(net)};
  std::printf("machine limits (this run, median of %d):\n", runs);
  std::printf("  fsync'd 1 MiB sequential writes to a local file: %8.1f MB/s\n",
              limits.fsync_write_mbs);
  std::printf("  loopback TCP, one stream:                        %8.1f MB/s\n",
              limits.loopback_tcp_mbs);
  return limits;
}

}  // namespace dase::bench
