// AwaitAll: runs several coroutines at once on the caller's executor and waits for all of them.
//
// The results come back in the order of the input, whatever order the coroutines finish in.
// Coroutines here report failures as values (Status, Result<T>); an exception escaping one is
// rethrown to the caller after all have finished, so none outlives the state it borrows.
//
// Thread-safety: call from the thread running the executor (the single-threaded loop).
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <vector>

#include "common/asio.h"

namespace dase {

template <typename T>
awaitable<std::vector<T>> AwaitAll(std::vector<awaitable<T>> tasks) {
  auto executor = co_await asio::this_coro::executor;
  struct State {
    explicit State(asio::any_io_executor ex, size_t n) : results(n), pending(n), done(ex) {}
    std::vector<std::optional<T>> results;
    size_t pending;
    std::exception_ptr error;
    asio::steady_timer done;
  };
  auto state = std::make_shared<State>(executor, tasks.size());
  state->done.expires_at(asio::steady_timer::time_point::max());
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto run = [](std::shared_ptr<State> s, size_t index, awaitable<T> task) -> awaitable<void> {
      T value = co_await std::move(task);
      s->results[index].emplace(std::move(value));
    };
    asio::co_spawn(executor, run(state, i, std::move(tasks[i])), [state](std::exception_ptr e) {
      if (e && !state->error) state->error = e;
      if (--state->pending == 0) state->done.cancel();
    });
  }
  if (state->pending > 0) {
    boost::system::error_code ignored;
    co_await state->done.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
  if (state->error) std::rethrow_exception(state->error);
  std::vector<T> out;
  out.reserve(tasks.size());
  for (auto& r : state->results) out.push_back(std::move(*r));
  co_return out;
}

}  // namespace dase
