#include "monitor/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "env/env.h"

namespace dase::monitor {

Result<pid_t> Spawn(const SpawnSpec& spec) {
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed.
  int log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoStatus("open log " + spec.log_path, errno);
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    return ErrnoStatus("fork", err);
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the monitor died before prctl took effect
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    for (const auto& [from, to] : spec.inherit_fds) {
      if (from == to) {
        ::fcntl(to, F_SETFD, 0);  // dup2 onto itself would keep close-on-exec
      } else {
        ::dup2(from, to);  // the new descriptor is not close-on-exec
      }
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(spec.exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return fmt::format("exited with status {}", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return fmt::format("killed by signal {} ({})", sig, ::strsignal(sig));
  }
  return fmt::format("ended with wait status {}", wait_status);
}

Result<std::string> SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n < 0) return ErrnoStatus("readlink /proc/self/exe", errno);
  return std::string(buf, static_cast<size_t>(n));
}

std::string LastLogLine(const std::string& path) {
  env::Env* env = env::Env::Default();
  auto file = env->Open(path, env::OpenMode::kRead);
  if (!file.ok()) return "";
  auto size = (*file)->Size();
  if (!size.ok()) return "";
  uint64_t want = std::min<uint64_t>(*size, 4096);
  std::string tail(want, '\0');
  auto n = (*file)->ReadAt(*size - want, std::span<char>(tail.data(), tail.size()));
  if (!n.ok()) return "";
  tail.resize(*n);
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  size_t nl = tail.find_last_of('\n');
  return nl == std::string::npos ? tail : tail.substr(nl + 1);
}

Result<std::pair<int, uint16_t>> BindListener(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("not an IPv4 address: " + host);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(fmt::format("listen on {}:{}", host, port), err);
  }
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("getsockname", err);
  }
  return std::make_pair(fd, ntohs(addr.sin_port));
}

}  // namespace dase::monitor
