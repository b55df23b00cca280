#include "dnode/block_client.h"

#include <utility>

namespace dase::dnode {

BlockClient::BlockClient(rpc::Client& rpc, std::string dnode_name, BlockClientOptions options)
    : rpc_(rpc), dnode_name_(std::move(dnode_name)), options_(options) {}

awaitable<Status> BlockClient::Write(DriveRef drive, uint64_t offset, BlockId id,
                                     std::string_view payload, Durability durability) {
  if (payload.size() > kMaxBlockPayloadBytes) {
    co_return InvalidArgument("block payload of " + std::to_string(payload.size()) +
                              " bytes exceeds the limit of " +
                              std::to_string(kMaxBlockPayloadBytes));
  }
  const std::string head = MakeBlockHead(DriveId(dnode_name_, drive), offset, id, payload);
  std::string request = EncodeWriteRequest(WriteRequest{drive, offset, durability, head, payload});
  Result<std::string> reply =
      co_await rpc_.Call(rpc::Method::kBlockWrite, std::move(request), options_.timeout);
  co_return reply.status();
}

awaitable<Status> BlockClient::WriteMany(std::vector<BlockWrite> blocks,
                                         std::shared_ptr<const void> owner,
                                         Durability durability) {
  if (blocks.empty() || blocks.size() > kMaxBlocksPerWrite) {
    co_return InvalidArgument("a block write carries 1 to " + std::to_string(kMaxBlocksPerWrite) +
                              " blocks, not " + std::to_string(blocks.size()));
  }
  // What the frame borrows: the prefix and heads made here, and the caller's payloads.
  struct Owned {
    std::string prefix;
    std::vector<std::string> heads;
    std::shared_ptr<const void> payloads;
  };
  auto owned = std::make_shared<Owned>();
  WriteManyRequest request;
  request.durability = durability;
  for (const BlockWrite& b : blocks) {
    if (b.payload.size() > kMaxBlockPayloadBytes) {
      co_return InvalidArgument("block payload of " + std::to_string(b.payload.size()) +
                                " bytes exceeds the limit of " +
                                std::to_string(kMaxBlockPayloadBytes));
    }
    owned->heads.push_back(MakeBlockHead(DriveId(dnode_name_, b.drive), b.offset, b.id, b.payload));
    request.blocks.push_back(BlockPut{b.drive, b.offset, {}, b.payload});
  }
  owned->prefix = EncodeWriteManyPrefix(request);
  owned->payloads = std::move(owner);
  rpc::GatherPayload payload;
  payload.pieces.push_back(owned->prefix);
  for (size_t i = 0; i < blocks.size(); ++i) {
    payload.pieces.push_back(owned->heads[i]);
    payload.pieces.push_back(blocks[i].payload);
  }
  payload.owner = std::move(owned);
  Result<std::string> reply =
      co_await rpc_.Call(rpc::Method::kBlockWriteMany, std::move(payload), options_.timeout);
  co_return reply.status();
}

awaitable<Result<std::string>> BlockClient::ReadSlice(DriveRef drive, uint64_t offset,
                                                      BlockId id, uint32_t payload_len,
                                                      uint32_t slice_offset, uint32_t slice_len) {
  std::string request = EncodeReadRequest(
      ReadRequest{drive, offset, id, payload_len, slice_offset, slice_len});
  Result<std::string> reply =
      co_await rpc_.Call(rpc::Method::kBlockRead, std::move(request), options_.timeout);
  if (!reply.ok()) co_return reply.status();
  if (reply->size() != slice_len) {
    co_return Corruption("dnode " + dnode_name_ + " answered a slice read with " +
                         std::to_string(reply->size()) + " bytes, expected " +
                         std::to_string(slice_len));
  }
  co_return reply;
}

awaitable<Result<std::string>> BlockClient::Read(DriveRef drive, uint64_t offset, BlockId id,
                                                 uint32_t payload_len) {
  std::string request = EncodeReadRequest(ReadRequest{drive, offset, id, payload_len});
  Result<std::string> reply =
      co_await rpc_.Call(rpc::Method::kBlockRead, std::move(request), options_.timeout);
  if (!reply.ok()) co_return reply.status();
  std::string block = std::move(reply).value();
  const size_t head_bytes = BlockHeadBytes(payload_len);
  if (block.size() != head_bytes + payload_len) {
    co_return Corruption("dnode " + dnode_name_ + " answered a read with " +
                         std::to_string(block.size()) + " bytes, expected " +
                         std::to_string(head_bytes + payload_len));
  }
  const std::string drive_id = DriveId(dnode_name_, drive);
  const std::string_view view(block);
  const Status verified = VerifyBlock(BlockExpectation{drive_id, offset, id, payload_len},
                                      view.substr(0, head_bytes), view.substr(head_bytes));
  // The DNode verified before answering, so a failure here happened after it (or in it).
  if (!verified.ok()) co_return Corruption("verified at the client: " + verified.ToString());
  block.erase(0, head_bytes);
  co_return block;
}

awaitable<Status> BlockClient::CallFlush(FlushRequest request) {
  std::string payload = EncodeFlushRequest(request);
  Result<std::string> reply =
      co_await rpc_.Call(rpc::Method::kBlockFlush, std::move(payload), options_.timeout);
  co_return reply.status();
}

awaitable<Status> BlockClient::Flush(DriveRef drive) {
  FlushRequest request{drive};
  co_return co_await CallFlush(std::move(request));
}

awaitable<Status> BlockClient::FlushAll() {
  FlushRequest request{};
  co_return co_await CallFlush(std::move(request));
}

awaitable<Result<DnodeInfo>> BlockClient::Info() {
  std::string empty;
  Result<std::string> reply =
      co_await rpc_.Call(rpc::Method::kDriveInfo, std::move(empty), options_.timeout);
  if (!reply.ok()) co_return reply.status();
  Result<DnodeInfo> info = DecodeDnodeInfo(*reply);
  if (!info.ok()) co_return Corruption("bad drive info reply: " + info.status().ToString());
  if (info->dnode_name != dnode_name_) {
    co_return FailedPrecondition("expected dnode " + dnode_name_ + ", the peer is " +
                                 info->dnode_name);
  }
  co_return info;
}

}  // namespace dase::dnode
