#include "vms/protocol_records.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "vms/record_writes.h"

namespace dase::vms {

bool ViewRecord::HasProtocol(std::string_view p) const {
  return std::find(protocols.begin(), protocols.end(), p) != protocols.end();
}

std::string TenantKey(int64_t id) { return fmt::format("{}{:016}", kTenantPrefix, id); }
std::string ViewPolicyKey(int64_t id) { return fmt::format("{}{:016}", kViewPolicyPrefix, id); }
std::string ViewKey(int64_t id) { return fmt::format("{}{:016}", kViewPrefix, id); }
std::string BucketKey(std::string_view bucket) {
  return fmt::format("{}{}", kBucketPrefix, bucket);
}
std::string LocalUserKey(int64_t id) { return fmt::format("{}{:016}", kLocalUserPrefix, id); }
std::string AccessKeyKey(std::string_view key) {
  return fmt::format("{}{}", kAccessKeyPrefix, key);
}
std::string VipPoolKey(int64_t id) { return fmt::format("{}{:016}", kVipPoolPrefix, id); }
std::string NextIdKey(std::string_view kind) { return fmt::format("{}{}", kNextIdPrefix, kind); }

Status FieldError(Code code, std::string_view field, std::string_view text) {
  return Status(code, fmt::format("{}: {}", field, text));
}

std::pair<std::string, std::string> SplitFieldError(const Status& status) {
  std::string_view m = status.message();
  size_t colon = m.find(": ");
  if (colon != std::string_view::npos && colon > 0 &&
      std::all_of(m.begin(), m.begin() + colon,
                  [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; })) {
    return {std::string(m.substr(0, colon)), std::string(m.substr(colon + 2))};
  }
  return {"non_field_errors", std::string(m)};
}

namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

Status ValidateBucketName(std::string_view b) {
  auto bad = [&](std::string_view why) {
    return Invalid("bucket", fmt::format("Invalid bucket name \"{}\": {}.", b.substr(0, 80), why));
  };
  if (b.size() < 3 || b.size() > 63) return bad("it must be 3 to 63 characters long");
  for (char c : b) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-') {
      return bad("only lowercase letters, digits, '.' and '-' are allowed");
    }
  }
  if (!IsLowerAlnum(b.front()) || !IsLowerAlnum(b.back())) {
    return bad("it must start and end with a letter or digit");
  }
  if (b.find("..") != std::string_view::npos) return bad("it must not contain \"..\"");
  if (ParseIpv4(b).ok()) return bad("it must not be formatted as an IP address");
  for (std::string_view prefix : {"xn--", "sthree-"}) {
    if (b.starts_with(prefix)) return bad(fmt::format("the prefix \"{}\" is reserved", prefix));
  }
  for (std::string_view suffix : {"-s3alias", "--ol-s3"}) {
    if (b.ends_with(suffix)) return bad(fmt::format("the suffix \"{}\" is reserved", suffix));
  }
  return Status::Ok();
}

Status ValidateViewPath(std::string_view path) {
  if (path.empty()) return Invalid("path", "This field may not be blank.");
  if (path.size() > kViewPathBytesMax) {
    return Invalid("path", fmt::format("Ensure this field has no more than {} characters.",
                                       kViewPathBytesMax));
  }
  if (path.front() != '/') return Invalid("path", "The path must begin with '/'.");
  if (path.find('\0') != std::string_view::npos) {
    return Invalid("path", "The path must not contain NUL characters.");
  }
  if (path == "/") return Status::Ok();
  if (path.back() == '/') return Invalid("path", "The path must not end with '/'.");
  std::string_view rest = path.substr(1);
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part.empty()) return Invalid("path", "The path must not contain \"//\".");
    if (part == "." || part == "..") {
      return Invalid("path", "The path must be normalized (no \".\" or \"..\" components).");
    }
    if (part.size() > 255) return Invalid("path", "A path component is longer than 255 bytes.");
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return Status::Ok();
}

Status ValidateName(std::string_view field, std::string_view name) {
  if (name.empty()) return Invalid(field, "This field may not be blank.");
  if (name.size() > kNameBytesMax) {
    return Invalid(field,
                   fmt::format("Ensure this field has no more than {} characters.", kNameBytesMax));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return Invalid(field, "Control characters are not allowed.");
  }
  return Status::Ok();
}

Result<uint32_t> ParseIpv4(std::string_view text) {
  Status bad = InvalidArgument(fmt::format("\"{}\" is not an IPv4 address", text.substr(0, 64)));
  uint32_t address = 0;
  for (int i = 0; i < 4; ++i) {
    size_t end = i < 3 ? text.find('.') : text.size();
    if (end == std::string_view::npos || end == 0 || end > 3) return bad;
    std::string_view part = text.substr(0, end);
    if (part.size() > 1 && part[0] == '0') return bad;  // "010" could mean octal elsewhere
    unsigned value = 0;
    auto r = std::from_chars(part.data(), part.data() + part.size(), value);
    if (r.ec != std::errc() || r.ptr != part.data() + part.size() || value > 255) return bad;
    address = (address << 8) | value;
    text = i < 3 ? text.substr(end + 1) : std::string_view();
  }
  return address;
}

std::string FormatIpv4(uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

Status ValidateHostList(std::string_view field, const std::vector<std::string>& hosts) {
  if (hosts.size() > kHostListMax) {
    return Invalid(field, fmt::format("Ensure this list has no more than {} items.", kHostListMax));
  }
  for (const std::string& h : hosts) {
    if (h == "*") continue;
    std::string_view address = h;
    size_t slash = address.find('/');
    if (slash != std::string_view::npos) {
      std::string_view bits = address.substr(slash + 1);
      unsigned prefix = 0;
      auto r = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (bits.empty() || r.ec != std::errc() || r.ptr != bits.data() + bits.size() ||
          prefix > 32) {
        return Invalid(field, fmt::format("\"{}\" is not \"*\", an IPv4 address or an IPv4 "
                                          "CIDR block.",
                                          h.substr(0, 80)));
      }
      address = address.substr(0, slash);
    }
    if (!ParseIpv4(address).ok()) {
      return Invalid(field, fmt::format("\"{}\" is not \"*\", an IPv4 address or an IPv4 CIDR "
                                        "block.",
                                        h.substr(0, 80)));
    }
  }
  return Status::Ok();
}

namespace {

struct NumericRange {
  uint32_t start = 0;
  uint32_t end = 0;
};

Result<NumericRange> CheckRange(const IpRange& r) {
  auto start = ParseIpv4(r.start);
  auto end = ParseIpv4(r.end);
  if (!start.ok()) return Invalid("ip_ranges", start.status().message());
  if (!end.ok()) return Invalid("ip_ranges", end.status().message());
  if (*start > *end) {
    return Invalid("ip_ranges",
                   fmt::format("The range {} - {} ends before it starts.", r.start, r.end));
  }
  constexpr uint32_t kLoopbackNet = 127u << 24;
  constexpr uint32_t kLoopbackMask = 0xff000000u;
  if ((*start & kLoopbackMask) != kLoopbackNet || (*end & kLoopbackMask) != kLoopbackNet) {
    return Invalid("ip_ranges", fmt::format("The range {} - {} is not inside 127.0.0.0/8 (a "
                                            "loopback cluster serves loopback addresses only).",
                                            r.start, r.end));
  }
  if (*start == kLoopbackNet || *end == (kLoopbackNet | 0x00ffffffu)) {
    return Invalid("ip_ranges", "127.0.0.0 and 127.255.255.255 are not host addresses.");
  }
  return NumericRange{*start, *end};
}

bool Overlap(const NumericRange& a, const NumericRange& b) {
  return a.start <= b.end && b.start <= a.end;
}

}  // namespace

Result<std::vector<std::string>> ValidateVipRanges(const std::vector<IpRange>& ranges,
                                                   const std::vector<VipPoolRecord>& others) {
  if (ranges.empty()) return Invalid("ip_ranges", "At least one range is required.");
  std::vector<NumericRange> mine;
  uint64_t count = 0;
  for (const IpRange& r : ranges) {
    ASSIGN_OR_RETURN(NumericRange n, CheckRange(r));
    for (const NumericRange& m : mine) {
      if (Overlap(n, m)) {
        return Invalid("ip_ranges", fmt::format("The range {} - {} overlaps another range of the "
                                                "pool.",
                                                r.start, r.end));
      }
    }
    count += uint64_t{n.end} - n.start + 1;
    if (count > kVipsPerPoolMax) {
      return Invalid("ip_ranges",
                     fmt::format("A pool holds at most {} addresses.", kVipsPerPoolMax));
    }
    mine.push_back(n);
  }
  for (const VipPoolRecord& other : others) {
    for (const IpRange& r : other.ip_ranges) {
      auto theirs = CheckRange(r);
      if (!theirs.ok()) continue;  // stored ranges were checked; never let one block a write
      for (const NumericRange& m : mine) {
        if (Overlap(m, *theirs)) {
          return Invalid("ip_ranges",
                         fmt::format("{} - {} overlaps VIP pool {} ({} - {}).", FormatIpv4(m.start),
                                     FormatIpv4(m.end), other.name, r.start, r.end));
        }
      }
    }
  }
  std::vector<std::string> out;
  for (const NumericRange& m : mine) {
    for (uint64_t a = m.start; a <= m.end; ++a) out.push_back(FormatIpv4(static_cast<uint32_t>(a)));
  }
  return out;
}

std::vector<std::string> PoolAddresses(const VipPoolRecord& pool) {
  std::vector<std::string> out;
  for (const IpRange& r : pool.ip_ranges) {
    auto n = CheckRange(r);
    if (!n.ok()) continue;
    for (uint64_t a = n->start; a <= n->end && out.size() < kVipsPerPoolMax; ++a) {
      out.push_back(FormatIpv4(static_cast<uint32_t>(a)));
    }
  }
  return out;
}

// ---- loaders

namespace {

template <typename T>
Result<std::vector<T>> LoadAll(meta::Transaction& txn, std::string_view prefix, size_t max) {
  ASSIGN_OR_RETURN(auto rows, txn.Scan(prefix, meta::PrefixEnd(prefix), max + 1));
  if (rows.size() > max) {
    return Corruption(fmt::format("more than {} records under {}", max, prefix));
  }
  std::vector<T> out;
  out.reserve(rows.size());
  for (const meta::KeyValue& kv : rows) {
    auto r = DecodeRecord<T>(kv.value);
    if (!r.ok()) return r.status().WithContext(kv.key);
    out.push_back(std::move(r).value());
  }
  return out;
}

template <typename T>
Result<std::optional<T>> LoadOne(meta::Transaction& txn, const std::string& key) {
  ASSIGN_OR_RETURN(auto bytes, txn.Get(key));
  if (!bytes) return std::optional<T>();
  auto r = DecodeRecord<T>(*bytes);
  if (!r.ok()) return r.status().WithContext(key);
  return std::optional<T>(std::move(r).value());
}

// Runs `read` in a fresh transaction that is never committed (it only reads).
template <typename F>
auto ReadOnly(meta::Store* store, F read) -> decltype(read(std::declval<meta::Transaction&>())) {
  auto txn = store->Begin();
  if (!txn.ok()) return txn.status();
  return read(**txn);
}

}  // namespace

Result<std::vector<TenantRecord>> LoadTenants(meta::Transaction& txn) {
  return LoadAll<TenantRecord>(txn, kTenantPrefix, kTenantsMax);
}
Result<std::optional<TenantRecord>> LoadTenant(meta::Transaction& txn, int64_t id) {
  return LoadOne<TenantRecord>(txn, TenantKey(id));
}
Result<std::vector<ViewPolicyRecord>> LoadViewPolicies(meta::Transaction& txn) {
  return LoadAll<ViewPolicyRecord>(txn, kViewPolicyPrefix, kViewPoliciesMax);
}
Result<std::optional<ViewPolicyRecord>> LoadViewPolicy(meta::Transaction& txn, int64_t id) {
  return LoadOne<ViewPolicyRecord>(txn, ViewPolicyKey(id));
}
Result<std::optional<ViewPolicyRecord>> FindS3DefaultPolicy(meta::Transaction& txn) {
  ASSIGN_OR_RETURN(auto all, LoadViewPolicies(txn));
  for (ViewPolicyRecord& p : all) {
    if (p.is_s3_default_policy) return std::optional<ViewPolicyRecord>(std::move(p));
  }
  return std::optional<ViewPolicyRecord>();
}
Result<std::vector<ViewRecord>> LoadViews(meta::Transaction& txn) {
  return LoadAll<ViewRecord>(txn, kViewPrefix, kViewsMax);
}
Result<std::optional<ViewRecord>> LoadView(meta::Transaction& txn, int64_t id) {
  return LoadOne<ViewRecord>(txn, ViewKey(id));
}

Result<std::optional<ViewRecord>> LookupBucket(meta::Transaction& txn, std::string_view bucket) {
  if (bucket.empty() || bucket.size() > 63) return std::optional<ViewRecord>();
  ASSIGN_OR_RETURN(auto id_text, txn.Get(BucketKey(bucket)));
  if (!id_text) return std::optional<ViewRecord>();
  int64_t id = 0;
  auto r = std::from_chars(id_text->data(), id_text->data() + id_text->size(), id);
  if (r.ec != std::errc() || r.ptr != id_text->data() + id_text->size()) {
    return Corruption(fmt::format("{}: not a view id", BucketKey(bucket)));
  }
  ASSIGN_OR_RETURN(auto view, LoadView(txn, id));
  if (!view || view->bucket != bucket) {
    return Corruption(
        fmt::format("{} names view {}, which is not that bucket", BucketKey(bucket), id));
  }
  return view;
}

Result<std::vector<LocalUserRecord>> LoadLocalUsers(meta::Transaction& txn) {
  return LoadAll<LocalUserRecord>(txn, kLocalUserPrefix, kLocalUsersMax);
}
Result<std::optional<LocalUserRecord>> LoadLocalUser(meta::Transaction& txn, int64_t id) {
  return LoadOne<LocalUserRecord>(txn, LocalUserKey(id));
}
Result<std::optional<LocalUserRecord>> FindLocalUserByName(meta::Transaction& txn,
                                                           std::string_view name) {
  ASSIGN_OR_RETURN(auto all, LoadLocalUsers(txn));
  for (LocalUserRecord& u : all) {
    if (u.name == name) return std::optional<LocalUserRecord>(std::move(u));
  }
  return std::optional<LocalUserRecord>();
}

Result<std::vector<AccessKeyRecord>> LoadAccessKeys(meta::Transaction& txn) {
  return LoadAll<AccessKeyRecord>(txn, kAccessKeyPrefix, kAccessKeysMax);
}
Result<std::vector<AccessKeyRecord>> LoadAccessKeysOf(meta::Transaction& txn, int64_t user_id) {
  ASSIGN_OR_RETURN(auto all, LoadAccessKeys(txn));
  std::erase_if(all, [&](const AccessKeyRecord& k) { return k.user_id != user_id; });
  return all;
}

Result<std::vector<VipPoolRecord>> LoadVipPools(meta::Transaction& txn) {
  return LoadAll<VipPoolRecord>(txn, kVipPoolPrefix, kVipPoolsMax);
}
Result<std::optional<VipPoolRecord>> LoadVipPool(meta::Transaction& txn, int64_t id) {
  return LoadOne<VipPoolRecord>(txn, VipPoolKey(id));
}

Result<std::optional<AccessKeyInfo>> LookupAccessKey(meta::Transaction& txn,
                                                     std::string_view access_key) {
  if (access_key.empty() || access_key.size() > 128) return std::optional<AccessKeyInfo>();
  ASSIGN_OR_RETURN(auto key, LoadOne<AccessKeyRecord>(txn, AccessKeyKey(access_key)));
  if (!key) return std::optional<AccessKeyInfo>();
  ASSIGN_OR_RETURN(auto user, LoadLocalUser(txn, key->user_id));
  if (!user) return std::optional<AccessKeyInfo>();
  return std::optional<AccessKeyInfo>(
      AccessKeyInfo{std::move(*user), key->access_key, key->secret_key, key->enabled});
}

Result<std::vector<ViewRecord>> LoadViews(meta::Store* store) {
  return ReadOnly(store, [](meta::Transaction& t) { return LoadViews(t); });
}
Result<std::optional<ViewRecord>> LookupBucket(meta::Store* store, std::string_view bucket) {
  return ReadOnly(store, [&](meta::Transaction& t) { return LookupBucket(t, bucket); });
}
Result<std::optional<AccessKeyInfo>> LookupAccessKey(meta::Store* store,
                                                     std::string_view access_key) {
  return ReadOnly(store, [&](meta::Transaction& t) { return LookupAccessKey(t, access_key); });
}
Result<std::optional<LocalUserRecord>> LoadLocalUser(meta::Store* store, int64_t id) {
  return ReadOnly(store, [&](meta::Transaction& t) { return LoadLocalUser(t, id); });
}
Result<std::optional<LocalUserRecord>> FindLocalUserByName(meta::Store* store,
                                                           std::string_view name) {
  return ReadOnly(store, [&](meta::Transaction& t) { return FindLocalUserByName(t, name); });
}
Result<std::vector<ViewPolicyRecord>> LoadViewPolicies(meta::Store* store) {
  return ReadOnly(store, [](meta::Transaction& t) { return LoadViewPolicies(t); });
}
Result<std::optional<ViewPolicyRecord>> LoadViewPolicy(meta::Store* store, int64_t id) {
  return ReadOnly(store, [&](meta::Transaction& t) { return LoadViewPolicy(t, id); });
}
Result<std::vector<VipPoolRecord>> LoadVipPools(meta::Store* store) {
  return ReadOnly(store, [](meta::Transaction& t) { return LoadVipPools(t); });
}

}  // namespace dase::vms
