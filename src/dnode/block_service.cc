#include "dnode/block_service.h"

#include <exception>
#include <utility>
#include <vector>

#include "common/await_all.h"
#include "common/log.h"

namespace dase::dnode {

struct BlockServiceCore {
  BlockServiceCore(asio::io_context& io, DnodeOptions options)
      : io(io), options(std::move(options)) {}

  // The queue of `ref`, or InvalidArgument naming the missing drive.
  Result<DriveQueue*> Find(DriveRef ref) {
    const DriveOptions& d = options.drives;
    if (ref.kind == DriveKind::kScm && ref.index < d.scm_count) return queues[ref.index].get();
    if (ref.kind == DriveKind::kSsd && ref.index < d.ssd_count) {
      return queues[d.scm_count + ref.index].get();
    }
    return InvalidArgument("dnode " + options.dnode_name + " has no drive " + DriveName(ref));
  }

  asio::io_context& io;
  const DnodeOptions options;
  std::unique_ptr<env::FileLock> lock;
  std::vector<std::unique_ptr<DriveQueue>> queues;  // SCM drives first, then SSD drives
};

namespace {

using Core = BlockServiceCore;

Status CheckOptions(const DnodeOptions& o) {
  if (o.node_dir.empty()) return InvalidArgument("no node directory");
  const std::string& name = o.dnode_name;
  if (name.empty() || name.size() > kMaxDnodeNameBytes || name.find('/') != std::string::npos) {
    return InvalidArgument("bad dnode name '" + name + "'");
  }
  if (o.cluster_guid.empty() || o.cluster_guid.size() > kMaxClusterGuidBytes) {
    return InvalidArgument("cluster guid empty or too long");
  }
  const uint64_t drives = uint64_t{o.drives.scm_count} + o.drives.ssd_count;
  if (drives == 0 || drives > kMaxDrives) {
    return InvalidArgument("a dnode has 1 to " + std::to_string(kMaxDrives) + " drives, not " +
                           std::to_string(drives));
  }
  if (o.max_queue_depth == 0) return InvalidArgument("max_queue_depth must be positive");
  return Status::Ok();
}

// A drive file beyond the configured counts would be abandoned silently: refuse instead.
Status CheckNoExtraDrives(env::Env* env, const std::string& dir, const DriveOptions& d) {
  ASSIGN_OR_RETURN(const std::vector<std::string> names, env->ListDir(dir));
  for (const std::string& name : names) {
    for (const auto& [kind, count] : {std::pair{DriveKind::kScm, d.scm_count},
                                      std::pair{DriveKind::kSsd, d.ssd_count}}) {
      const std::string prefix = std::string(KindName(kind)) + "-";
      if (name.rfind(prefix, 0) != 0 || name.ends_with(".tmp")) continue;
      const std::string index = name.substr(prefix.size());
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) continue;
      if (index.size() > 6 || std::stoul(index) >= count) {
        return FailedPrecondition("drive " + name + " exists in " + dir + " but the options name " +
                                  std::to_string(count) + " " + std::string(KindName(kind)) +
                                  " drives");
      }
    }
  }
  return Status::Ok();
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p whose every new directory is synced into its parent: a directory that a power cut
// could take away would take the drives (and the acknowledged blocks on them) with it.
Status CreateDirsDurably(env::Env* env, const std::string& path) {
  Result<env::FileInfo> info = env->Stat(path);
  if (info.ok()) {
    if (!info->is_dir) return InvalidArgument(path + " exists and is not a directory");
    return Status::Ok();
  }
  if (info.status().code() != Code::kNotFound) return info.status();
  const std::string parent = ParentDir(path);
  if (parent != path) RETURN_IF_ERROR(CreateDirsDurably(env, parent));
  const Status made = env->CreateDir(path);
  if (!made.ok() && made.code() != Code::kAlreadyExists) return made;
  return env->SyncDir(parent);
}

Status OpenDrives(env::Env* env, Core& core, const std::string& dir) {
  const DnodeOptions& o = core.options;
  const auto open_kind = [&](DriveKind kind, uint32_t count, uint64_t bytes,
                             bool preformat) -> Status {
    for (uint32_t i = 0; i < count; ++i) {
      DriveSpec spec{dir, DriveRef{kind, i}, DriveId(o.dnode_name, DriveRef{kind, i}),
                     o.cluster_guid, bytes, preformat};
      ASSIGN_OR_RETURN(std::unique_ptr<Drive> drive, Drive::Open(env, spec));
      // The write buffer's small writes and short syncs run on the loop (DriveExecution).
      const DriveExecution execution =
          kind == DriveKind::kScm ? DriveExecution::kLoop : DriveExecution::kThread;
      core.queues.push_back(std::make_unique<DriveQueue>(core.io, std::move(drive),
                                                         o.max_queue_depth, execution));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(open_kind(DriveKind::kScm, o.drives.scm_count, o.drives.scm_bytes,
                            o.drives.scm_preformat));
  return open_kind(DriveKind::kSsd, o.drives.ssd_count, o.drives.ssd_bytes, false);
}

// A malformed request is the caller's mistake, whatever the decoder called it.
Status BadRequest(const Status& s, const char* what) {
  return InvalidArgument(std::string("malformed ") + what +
                         " request: " + std::string(s.message()));
}

awaitable<Result<std::string>> HandleWrite(std::shared_ptr<Core> core, std::string payload) {
  Result<WriteRequest> req = DecodeWriteRequest(payload);
  if (!req.ok()) co_return BadRequest(req.status(), "block write");
  CO_ASSIGN_OR_RETURN(DriveQueue * queue, core->Find(req->drive));
  CO_RETURN_IF_ERROR(
      CheckPlacement(req->offset, req->payload.size(), queue->drive().data_bytes()));
  // `payload` (which the request's views borrow) lives in this frame until the write is done.
  const Status s = co_await queue->Write(req->offset, req->head, req->payload, req->durability);
  CO_RETURN_IF_ERROR(s);
  co_return std::string();
}

// Every block goes to its drive's queue at once (each drive syncs on its own thread); the answer
// waits for all of them, since they borrow `payload`, and is the first failure, if any.
awaitable<Result<std::string>> HandleWriteMany(std::shared_ptr<Core> core, std::string payload) {
  Result<WriteManyRequest> req = DecodeWriteManyRequest(payload);
  if (!req.ok()) co_return BadRequest(req.status(), "block write");
  std::vector<DriveQueue*> queues;
  for (const BlockPut& b : req->blocks) {
    CO_ASSIGN_OR_RETURN(DriveQueue * queue, core->Find(b.drive));
    CO_RETURN_IF_ERROR(CheckPlacement(b.offset, b.payload.size(), queue->drive().data_bytes()));
    queues.push_back(queue);
  }
  std::vector<awaitable<Status>> writes;
  for (size_t i = 0; i < queues.size(); ++i) {
    const BlockPut& b = req->blocks[i];
    writes.push_back(queues[i]->Write(b.offset, b.head, b.payload, req->durability));
  }
  std::vector<Status> written = co_await AwaitAll(std::move(writes));
  for (size_t i = 0; i < written.size(); ++i) {
    if (!written[i].ok()) {
      co_return written[i].WithContext("block " + std::to_string(i) + " on " +
                                       DriveName(req->blocks[i].drive));
    }
  }
  co_return std::string();
}

awaitable<Result<std::string>> HandleRead(std::shared_ptr<Core> core, std::string payload) {
  Result<ReadRequest> req = DecodeReadRequest(payload);
  if (!req.ok()) co_return BadRequest(req.status(), "block read");
  CO_ASSIGN_OR_RETURN(DriveQueue * queue, core->Find(req->drive));
  CO_RETURN_IF_ERROR(CheckPlacement(req->offset, req->payload_len, queue->drive().data_bytes()));
  co_return co_await queue->Read(req->offset, req->id, req->payload_len,
                                 PayloadSlice{req->slice_offset, req->slice_len});
}

// Flushes every drive at once (each on its own thread); the first error wins.
awaitable<Status> FlushAll(std::shared_ptr<Core> core) {
  struct State {
    explicit State(asio::io_context& io) : done(io, asio::steady_timer::time_point::max()) {}
    size_t remaining = 0;
    Status status;
    asio::steady_timer done;
  };
  auto state = std::make_shared<State>(core->io);
  state->remaining = core->queues.size();
  for (const auto& queue : core->queues) {
    asio::co_spawn(core->io, queue->Flush(), [state, core](std::exception_ptr e, Status s) {
      if (e) s = Internal("drive flush threw");
      if (state->status.ok() && !s.ok()) state->status = s;
      if (--state->remaining == 0) state->done.cancel();
    });
  }
  while (state->remaining > 0) {
    co_await state->done.async_wait(asio::as_tuple(use_awaitable));
  }
  co_return state->status;
}

awaitable<Result<std::string>> HandleFlush(std::shared_ptr<Core> core, std::string payload) {
  Result<FlushRequest> req = DecodeFlushRequest(payload);
  if (!req.ok()) co_return BadRequest(req.status(), "block flush");
  Status s;
  if (req->drive.has_value()) {
    CO_ASSIGN_OR_RETURN(DriveQueue * queue, core->Find(*req->drive));
    s = co_await queue->Flush();
  } else {
    s = co_await FlushAll(core);
  }
  CO_RETURN_IF_ERROR(s);
  co_return std::string();
}

DnodeInfo CollectInfo(const Core& core) {
  DnodeInfo info;
  info.dnode_name = core.options.dnode_name;
  info.cluster_guid = core.options.cluster_guid;
  for (const auto& queue : core.queues) {
    const Drive& d = queue->drive();
    info.drives.push_back(DriveInfo{d.drive_id(), d.ref(), d.size_bytes(), d.data_bytes(),
                                    d.created_micros(), queue->Stats()});
  }
  return info;
}

awaitable<Result<std::string>> HandleInfo(std::shared_ptr<Core> core, std::string payload) {
  if (!payload.empty()) co_return InvalidArgument("drive info request takes no payload");
  co_return EncodeDnodeInfo(CollectInfo(*core));
}

}  // namespace

Result<std::unique_ptr<BlockService>> BlockService::Open(asio::io_context& io, env::Env* env,
                                                          DnodeOptions options) {
  RETURN_IF_ERROR(CheckOptions(options));
  const std::string dir = options.node_dir + "/drives";
  RETURN_IF_ERROR(CreateDirsDurably(env, dir));
  // Again for the last two levels, in case a crash came between a mkdir and its sync before.
  RETURN_IF_ERROR(env->SyncDir(options.node_dir));
  RETURN_IF_ERROR(env->SyncDir(ParentDir(options.node_dir)));
  auto core = std::make_shared<Core>(io, std::move(options));
  ASSIGN_OR_RETURN(core->lock, env->LockFile(dir + "/LOCK"));
  RETURN_IF_ERROR(CheckNoExtraDrives(env, dir, core->options.drives));
  RETURN_IF_ERROR(OpenDrives(env, *core, dir));
  LOG_INFO("dnode {}: {} drives open in {}", core->options.dnode_name, core->queues.size(), dir);
  return std::unique_ptr<BlockService>(new BlockService(std::move(core)));
}

BlockService::~BlockService() {
  for (const auto& queue : core_->queues) queue->Stop();
  core_->lock.reset();
}

void BlockService::Register(rpc::Server& server) {
  const std::shared_ptr<Core> core = core_;
  server.Register(rpc::Method::kBlockWrite,
                  [core](std::string p) { return HandleWrite(core, std::move(p)); });
  server.Register(rpc::Method::kBlockWriteMany,
                  [core](std::string p) { return HandleWriteMany(core, std::move(p)); });
  server.Register(rpc::Method::kBlockRead,
                  [core](std::string p) { return HandleRead(core, std::move(p)); });
  server.Register(rpc::Method::kBlockFlush,
                  [core](std::string p) { return HandleFlush(core, std::move(p)); });
  server.Register(rpc::Method::kDriveInfo,
                  [core](std::string p) { return HandleInfo(core, std::move(p)); });
}

DnodeInfo BlockService::Info() const { return CollectInfo(*core_); }

}  // namespace dase::dnode
