// `dase view|viewpolicy|user|vippool create|list|show|delete` and `dase user access-key
// create|delete`: clients of the REST API's views/, viewpolicies/, users/ and vippools/, like
// every other command. Objects are named by name or id.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <iostream>
#include <memory>

#include "cli/api_client.h"
#include "cli/commands.h"

namespace dase::cli {
namespace json = boost::json;

namespace {

struct Resource {
  const char* noun;                                          // "view"
  const char* path;                                          // "views/"
  std::vector<std::pair<const char*, const char*>> columns;  // header, field
};

const Resource kViews{"view",
                      "views/",
                      {{"ID", "id"},
                       {"NAME", "name"},
                       {"PATH", "path"},
                       {"PROTOCOLS", "protocols"},
                       {"BUCKET", "bucket"},
                       {"OWNER", "bucket_owner"},
                       {"POLICY", "policy"}}};
const Resource kPolicies{"viewpolicy",
                         "viewpolicies/",
                         {{"ID", "id"},
                          {"NAME", "name"},
                          {"FLAVOR", "flavor"},
                          {"NFS_RW", "nfs_read_write"},
                          {"NFS_RO", "nfs_read_only"},
                          {"VIEWS", "count_views"}}};
const Resource kUsers{"user",
                      "users/",
                      {{"ID", "id"},
                       {"NAME", "name"},
                       {"UID", "uid"},
                       {"CREATE_BUCKET", "allow_create_bucket"},
                       {"DELETE_BUCKET", "allow_delete_bucket"},
                       {"ACCESS_KEYS", "access_keys"}}};
const Resource kVipPools{"vippool",
                         "vippools/",
                         {{"ID", "id"},
                          {"NAME", "name"},
                          {"RANGES", "ip_ranges"},
                          {"CIDR", "subnet_cidr"},
                          {"ENABLED", "enabled"},
                          {"HELD_BY", "active_cnode_ids"}}};

// Everything the object verbs can be given; one instance lives as long as the parsed command.
struct ObjectFlags {
  std::string data_dir;
  bool json = false;
  std::string ref;  // name or id of the object
  std::string key;  // an access key
  std::string name, path, policy = "default", bucket, bucket_owner, flavor;
  std::vector<std::string> protocols{"NFS"};
  bool create_dir = false;
  std::vector<std::string> nfs_read_write, nfs_read_only, nfs_root_squash, nfs_all_squash,
      nfs_no_squash, s3_visibility;
  int64_t uid = -1, leading_gid = -1;
  bool allow_create_bucket = false, allow_delete_bucket = false, s3_superuser = false;
  std::vector<std::string> ranges;  // "START-END" or "ADDRESS"
  int subnet_cidr = 8;
  std::vector<int64_t> cnode_ids;
};

int Fail(const Status& s) {
  std::cerr << "dase: " << s.message() << "\n";
  return s.code() == Code::kUnavailable ? 3 : 1;
}

// A cell of a table: strings as they are, lists joined by commas, [a, b] pairs as "a-b",
// access keys by their key.
std::string Cell(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "-";
    case json::kind::string: return v.get_string().empty() ? "-" : std::string(v.get_string());
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.size() == 2 && a[0].is_string() && a[1].is_string()) {
        return Cell(a[0]) + "-" + Cell(a[1]);
      }
      std::string out;
      for (const json::value& item : a) out += (out.empty() ? "" : ",") + Cell(item);
      return out.empty() ? "-" : out;
    }
    case json::kind::object:
      if (const json::value* k = v.get_object().if_contains("access_key")) return Cell(*k);
      return json::serialize(v);
    default: return json::serialize(v);
  }
}

std::string Field(const json::value& o, const char* key) {
  const json::value* v = o.is_object() ? o.get_object().if_contains(key) : nullptr;
  return v == nullptr ? "-" : Cell(*v);
}

void PrintTable(const Resource& r, const json::array& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  for (const auto& [header, field] : r.columns) widths.push_back(std::string_view(header).size());
  for (const json::value& row : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < r.columns.size(); ++i) {
      line.push_back(Field(row, r.columns[i].second));
      widths[i] = std::max(widths[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto print = [&](const std::vector<std::string>& line) {
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
      out += i + 1 == line.size() ? line[i] : fmt::format("{:<{}}  ", line[i], widths[i]);
    }
    std::cout << out << "\n";
  };
  std::vector<std::string> headers;
  for (const auto& [header, field] : r.columns) headers.push_back(header);
  print(headers);
  for (const auto& line : cells) print(line);
}

void PrintObject(const json::value& o, bool as_json) {
  if (as_json) {
    std::cout << json::serialize(o) << "\n";
    return;
  }
  for (const auto& field : o.as_object()) {
    std::cout << fmt::format("{:<26} {}\n", std::string(field.key()), Cell(field.value()));
  }
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.size() < 19 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The object named `ref`: an id if it is all digits and such an object exists, else a name.
Result<json::value> FindObject(ApiClient& client, const Resource& r, const std::string& ref) {
  if (AllDigits(ref)) {
    auto by_id = client.Get(fmt::format("{}{}/", r.path, ref));
    if (by_id.ok() || by_id.status().code() != Code::kNotFound) return by_id;
  }
  ASSIGN_OR_RETURN(json::value list, client.Get(fmt::format("{}?name={}", r.path, UrlEncode(ref))));
  if (!list.is_array() || list.as_array().empty()) {
    return NotFound(fmt::format("no {} named {}", r.noun, ref));
  }
  return list.as_array().at(0);
}

json::array Strings(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& s : items) out.emplace_back(s);
  return out;
}

// The body of a create request, from the flags.
Result<json::object> CreateBody(ApiClient& client, const Resource& r, const ObjectFlags& f) {
  json::object body;
  if (!f.name.empty()) body["name"] = f.name;
  if (&r == &kViews) {
    ASSIGN_OR_RETURN(json::value policy, FindObject(client, kPolicies, f.policy));
    body["path"] = f.path;
    body["policy_id"] = policy.at("id");
    body["protocols"] = Strings(f.protocols);
    if (!f.bucket.empty()) body["bucket"] = f.bucket;
    if (!f.bucket_owner.empty()) body["bucket_owner"] = f.bucket_owner;
    if (f.create_dir) body["create_dir"] = true;
  } else if (&r == &kPolicies) {
    if (!f.flavor.empty()) body["flavor"] = f.flavor;
    const std::pair<const char*, const std::vector<std::string>*> lists[] = {
        {"nfs_read_write", &f.nfs_read_write},   {"nfs_read_only", &f.nfs_read_only},
        {"nfs_root_squash", &f.nfs_root_squash}, {"nfs_all_squash", &f.nfs_all_squash},
        {"nfs_no_squash", &f.nfs_no_squash},     {"s3_visibility", &f.s3_visibility}};
    for (const auto& [key, list] : lists) {
      if (!list->empty()) body[key] = Strings(*list);
    }
  } else if (&r == &kUsers) {
    if (f.uid >= 0) body["uid"] = f.uid;
    if (f.leading_gid >= 0) body["leading_gid"] = f.leading_gid;
    body["allow_create_bucket"] = f.allow_create_bucket;
    body["allow_delete_bucket"] = f.allow_delete_bucket;
    body["s3_superuser"] = f.s3_superuser;
  } else {
    json::array ranges;
    for (const std::string& range : f.ranges) {
      size_t dash = range.find('-');
      std::string start = range.substr(0, dash);
      std::string end = dash == std::string::npos ? start : range.substr(dash + 1);
      ranges.push_back(json::array{json::value(start), json::value(end)});
    }
    body["ip_ranges"] = std::move(ranges);
    body["subnet_cidr"] = f.subnet_cidr;
    if (!f.cnode_ids.empty()) {
      json::array ids;
      for (int64_t id : f.cnode_ids) ids.emplace_back(id);
      body["cnode_ids"] = std::move(ids);
    }
  }
  return body;
}

int RunVerb(const Resource& r, const std::string& verb, const ObjectFlags& f) {
  auto client = ApiClient::Open(LayoutForDataDir(f.data_dir));
  if (!client.ok()) return Fail(client.status());
  if (verb == "list") {
    auto list = client->Get(r.path);
    if (!list.ok()) return Fail(list.status());
    if (f.json) {
      std::cout << json::serialize(*list) << "\n";
    } else {
      PrintTable(r, list->as_array());
    }
    return 0;
  }
  if (verb == "create") {
    auto body = CreateBody(*client, r, f);
    if (!body.ok()) return Fail(body.status());
    auto created = client->Post(r.path, *body);
    if (!created.ok()) return Fail(created.status());
    PrintObject(*created, f.json);
    return 0;
  }
  auto object = FindObject(*client, r, f.ref);
  if (!object.ok()) return Fail(object.status());
  if (verb == "show") {
    PrintObject(*object, f.json);
    return 0;
  }
  auto deleted = client->Delete(fmt::format("{}{}/", r.path, Field(*object, "id")));
  if (!deleted.ok()) return Fail(deleted.status());
  std::cout << fmt::format("deleted {} {} (id {})\n", r.noun, Field(*object, "name"),
                           Field(*object, "id"));
  return 0;
}

int AccessKeyVerb(const std::string& verb, const ObjectFlags& f) {
  auto client = ApiClient::Open(LayoutForDataDir(f.data_dir));
  if (!client.ok()) return Fail(client.status());
  auto user = FindObject(*client, kUsers, f.ref);
  if (!user.ok()) return Fail(user.status());
  std::string path = fmt::format("users/{}/access_keys/", Field(*user, "id"));
  if (verb == "delete") {
    auto r = client->Delete(path, json::object{{"access_key", f.key}});
    if (!r.ok()) return Fail(r.status());
    std::cout << fmt::format("revoked access key {} of {}\n", f.key, Field(*user, "name"));
    return 0;
  }
  auto pair = client->Post(path, json::object{});
  if (!pair.ok()) return Fail(pair.status());
  if (f.json) {
    std::cout << json::serialize(*pair) << "\n";
  } else {
    std::cout << "access_key: " << Field(*pair, "access_key") << "\n"
              << "secret_key: " << Field(*pair, "secret_key") << "\n";
    std::cerr << "(the secret key is shown only now)\n";
  }
  return 0;
}

void AddCreateOptions(CLI::App* cmd, const Resource& r, ObjectFlags& f) {
  if (&r == &kViews) {
    cmd->add_option("--path", f.path, "element-store directory to expose (absolute)")->required();
    cmd->add_option("--policy", f.policy, "view policy, by name or id (default: default)");
    cmd->add_option("--protocols", f.protocols, "NFS and/or S3 (default NFS)")->delimiter(',');
    cmd->add_option("--bucket", f.bucket, "S3 bucket name (with S3)");
    cmd->add_option("--bucket-owner", f.bucket_owner, "owner of the bucket: a user name");
    cmd->add_flag("--create-dir", f.create_dir, "create the directory if it is missing");
    cmd->add_option("--name", f.name, "view name (default view-<id>)");
  } else if (&r == &kPolicies) {
    cmd->add_option("--name", f.name, "policy name")->required();
    cmd->add_option("--flavor", f.flavor, "NFS, SMB, MIXED_LAST_WINS or S3_NATIVE");
    const std::pair<const char*, std::vector<std::string>*> lists[] = {
        {"--nfs-read-write", &f.nfs_read_write},
        {"--nfs-read-only", &f.nfs_read_only},
        {"--nfs-root-squash", &f.nfs_root_squash},
        {"--nfs-all-squash", &f.nfs_all_squash},
        {"--nfs-no-squash", &f.nfs_no_squash}};
    for (const auto& [flag, list] : lists) {
      cmd->add_option(flag, *list, "hosts: *, addresses, CIDR blocks (comma-separated)")
          ->delimiter(',');
    }
    cmd->add_option("--s3-visibility", f.s3_visibility, "users who may list its buckets")
        ->delimiter(',');
  } else if (&r == &kUsers) {
    cmd->add_option("--name", f.name, "user name")->required();
    cmd->add_option("--uid", f.uid, "NFS uid")->check(CLI::Range(0ll, 4294967295ll));
    cmd->add_option("--leading-gid", f.leading_gid, "leading gid")
        ->check(CLI::Range(0ll, 4294967295ll));
    cmd->add_flag("--allow-create-bucket", f.allow_create_bucket, "may create S3 buckets");
    cmd->add_flag("--allow-delete-bucket", f.allow_delete_bucket, "may delete S3 buckets");
    cmd->add_flag("--s3-superuser", f.s3_superuser, "overrides S3 ACLs");
  } else {
    cmd->add_option("--name", f.name, "pool name (default vippool-<id>)");
    cmd->add_option("--range", f.ranges, "START-END or one address; repeatable")->required();
    cmd->add_option("--subnet-cidr", f.subnet_cidr, "subnet prefix length (default 8)")
        ->check(CLI::Range(1, 32));
    cmd->add_option("--cnodes", f.cnode_ids, "dedicate the pool to these CNode ids")
        ->delimiter(',');
  }
}

void AddResource(CLI::App& app, const Resource& r, const char* help,
                 const std::shared_ptr<ObjectFlags>& f, int* result) {
  CLI::App* group = app.add_subcommand(r.noun, help);
  group->require_subcommand(1);
  for (const char* verb : {"create", "list", "show", "delete"}) {
    CLI::App* cmd = group->add_subcommand(verb, fmt::format("{} {}s", verb, r.noun));
    cmd->add_option("--data-dir", f->data_dir, "cluster data directory");
    std::string v = verb;
    if (v == "create") AddCreateOptions(cmd, r, *f);
    if (v == "show" || v == "delete") {
      cmd->add_option(r.noun, f->ref, fmt::format("the {}, by name or id", r.noun))->required();
    }
    if (v != "delete") cmd->add_flag("--json", f->json, "print JSON");
    cmd->callback([&r, v, f, result] { *result = RunVerb(r, v, *f); });
  }
  if (r.noun != kUsers.noun) return;
  CLI::App* keys = group->add_subcommand("access-key", "S3 access keys of a user");
  keys->require_subcommand(1);
  CLI::App* create = keys->add_subcommand("create", "make a key pair; prints the secret once");
  CLI::App* remove = keys->add_subcommand("delete", "revoke an access key");
  for (CLI::App* cmd : {create, remove}) {
    cmd->add_option("--data-dir", f->data_dir, "cluster data directory");
    cmd->add_option("user", f->ref, "the user, by name or id")->required();
  }
  create->add_flag("--json", f->json, "print JSON");
  remove->add_option("key", f->key, "the access key")->required();
  create->callback([f, result] { *result = AccessKeyVerb("create", *f); });
  remove->callback([f, result] { *result = AccessKeyVerb("delete", *f); });
}

}  // namespace

void AddObjectCommands(CLI::App& app, int* result) {
  auto flags = std::make_shared<ObjectFlags>();
  AddResource(app, kViews, "views: directories exposed over NFS and S3", flags, result);
  AddResource(app, kPolicies, "view policies: who may reach a view, and how", flags, result);
  AddResource(app, kUsers, "local users of the data protocols and their S3 keys", flags, result);
  AddResource(app, kVipPools, "VIP pools: the addresses CNodes serve the protocols on", flags,
              result);
}

}  // namespace dase::cli
