#include "ops/keys.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/time_util.h"

namespace sr::ops {

using nlohmann::json;

namespace {

// Creates `path` (it must not exist) holding `secret`, mode 0600, fsynced.
void write_new_key_file(const std::string& path, const std::string& secret) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd)
    throw_errno("cannot create the key file " + path +
                (errno == EEXIST ? " (it must not exist yet)" : ""));
  try {
    write_all(fd.get(), as_bytes(secret.ends_with('\n') ? secret : secret + "\n"), path);
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + path);
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
}

}  // namespace

json AddKeyResult::to_json() const {
  if (key_file.empty()) return {{"id", id}};
  return {{"id", id}, {"key_file", key_file}};
}

json ListKeysResult::to_json() const {
  json arr = json::array();
  for (const auto& s : slots)
    arr.push_back({{"id", s.id},
                   {"created", format_rfc3339(s.created_ns)},
                   {"host", s.host},
                   {"user", s.user},
                   {"current", s.id == current},
                   {"format", s.version == 2 ? "ring" : "old"},
                   {"generation", generation}});
  return arr;
}

json RemoveKeyResult::to_json() const {
  json j = {{"removed", removed}};
  if (generation) j["generation"] = *generation;
  return j;
}

json RotateKeysResult::to_json() const { return {{"generation", generation}, {"slots", slots}}; }

json UpgradeKeyResult::to_json() const { return {{"slot", slot}, {"upgraded", upgraded}}; }

json ExportWriterResult::to_json() const {
  return {{"writer_key_file", path}, {"generation", generation}};
}

AddKeyResult add_key(repo::Repository& repo, const AddKeyOptions& options, const OpContext& ctx) {
  ctx.check_cancelled("key add");
  AddKeyResult r;
  if (options.new_key_file.empty()) {
    r.id = repo.add_key_slot(repo::Credential{options.password, false}, options.scrypt);
    ctx.log().info("key", "added key slot " + r.id);
    return r;
  }
  std::string secret = repo::generate_key_file_secret();
  write_new_key_file(options.new_key_file, secret);
  try {
    r.id = repo.add_key_slot(repo::Credential{secret, true});
  } catch (...) {
    ::unlink(options.new_key_file.c_str());
    throw;
  }
  r.key_file = options.new_key_file;
  ctx.log().info("key", "added key slot " + r.id + " for the key file " + r.key_file);
  return r;
}

ListKeysResult list_keys(repo::Repository& repo, const OpContext& ctx) {
  ctx.check_cancelled("key list");
  return ListKeysResult{repo.list_key_slots(), repo.opened_slot(), repo.key_generation()};
}

RemoveKeyResult remove_key(repo::Repository& repo, const std::string& id, const OpContext& ctx,
                           bool rotate) {
  ctx.check_cancelled("key remove");
  repo.remove_key_slot(id);
  ctx.log().info("key", "removed key slot " + id);
  RemoveKeyResult r{id, std::nullopt};
  if (rotate) r.generation = rotate_keys(repo, ctx).generation;
  return r;
}

RotateKeysResult rotate_keys(repo::Repository& repo, const OpContext& ctx) {
  ctx.check_cancelled("key rotate");
  RotateKeysResult r;
  r.generation = repo.rotate_keys();
  r.slots = repo.list_key_slots().size();
  ctx.log().info("key", "rotated the keys: generation " + std::to_string(r.generation) + ", " +
                            std::to_string(r.slots) + " key slot(s) re-keyed");
  return r;
}

UpgradeKeyResult upgrade_key(repo::Repository& repo, const OpContext& ctx) {
  ctx.check_cancelled("key upgrade");
  UpgradeKeyResult r{repo.opened_slot(), repo.upgrade_key_slot()};
  ctx.log().info("key", r.upgraded ? "key slot " + r.slot + " is now a ring slot"
                                   : "key slot " + r.slot + " already was a ring slot");
  return r;
}

ExportWriterResult export_writer(repo::Repository& repo, const std::string& path,
                                 const OpContext& ctx) {
  ctx.check_cancelled("key export-writer");
  if (path.empty()) throw Error(Errc::kUsage, "export-writer needs --to FILE");
  if (::access(path.c_str(), F_OK) == 0)
    throw Error(Errc::kAlreadyExists, "refusing to overwrite " + path);
  std::string text = repo.writer_key_text();
  write_new_key_file(path, text);
  codec::wipe(text);
  ExportWriterResult r{path, repo.key_generation()};
  ctx.log().info("key", "wrote the writer key file " + path + " (key generation " +
                            std::to_string(r.generation) + ")");
  return r;
}

}  // namespace sr::ops
