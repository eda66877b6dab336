// storage/local_storage.h: the Storage contract on a local (POSIX) file system.
//
// Each key is a file below the root. Publication is write-to-temp + fsync + rename (or link, for
// put-if-absent, which fails atomically on an existing name) + fsync of the directory. Temporary
// files start with ".tmp-" and are invisible to list(); staging files live in <root>/tmp.
// Files are created 0600 and directories 0700 (whatever the umask allows of that);
// create_if_missing() also tightens an existing root directory to 0700.
#pragma once

#include "storage/storage.h"

namespace sr::storage {

class LocalStorage final : public Storage {
 public:
  explicit LocalStorage(std::string root);
  std::string describe() const override { return "local:" + root_; }
  bool supports_conditional_put() const override { return true; }
  void put(const std::string& key, ByteSpan data, bool if_absent) override;
  void put_file(const std::string& key, const std::string& path, bool if_absent) override;
  Bytes get(const std::string& key, uint64_t offset, std::optional<uint64_t> length) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  void list(const std::string& prefix,
            const std::function<void(const ObjectInfo&)>& visit) override;
  void remove(const std::string& key) override;
  std::string staging_dir() override;
  void create_if_missing() override;

 private:
  std::string path_of(const std::string& key) const;
  void publish(const std::string& tmp, const std::string& key, bool if_absent);
  std::string root_;
};

}  // namespace sr::storage
