#include "ops/backup.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/fs.h"
#include "base/time_util.h"
#include "ops/backup_parts.h"
#include "ops/lock_wait.h"
#include "ops/repair.h"
#include "repo/lock.h"
#include "repo/tree_stream.h"
#include "source/command_source.h"
#include "source/file_walker.h"

namespace sr::ops {

using repo::ChunkRef;
using repo::Entry;
using repo::EntryKind;
using namespace backup_parts;

namespace {
constexpr size_t kMaxPendingEntries = 4096;

// One entry of the tree, possibly still being read by a file worker.
struct Slot {
  Entry entry;
  std::string abs;
  bool done = false;
  bool skip = false;
  bool reused = false;
  bool failed = false;          // the worker threw; its error is rethrown by WorkerPool::wait
  bool block = false;           // read page by page (ops/block_file.h)
  std::optional<Entry> parent;  // the parent's entry for a block file
};

// Counts the tree in a thread, for an ETA (stops with the backup).
std::jthread start_scanner(const source::WalkPlan& plan, Counters* c,
                           const source::FilterFn& filter) {
  return std::jthread([&plan, c, &filter](std::stop_token st) {
    try {
      source::walk(
          plan,
          [&](const source::WalkItem& item) {
            if (st.stop_requested()) throw Error(Errc::kCancelled, "stop");
            if (S_ISREG(item.st.st_mode)) {
              c->total_bytes += static_cast<uint64_t>(item.st.st_size);
              ++c->total_files;
            }
          },
          [](const std::string&, const std::string&) {}, filter);
      c->total_known = true;
    } catch (const Error&) {
    }
  });
}

// One run of backup_files. Entries are emitted to the tree in walk order: a deque of slots,
// filled by file workers in any order and drained from the front.
class FilesBackup {
 public:
  FilesBackup(repo::Repository& repo, const FilesBackupOptions& o, const OpContext& ctx,
              const source::WalkPlan& plan)
      : repo_(repo), o_(o), ctx_(ctx), plan_(plan), pages_(o.pages) {
    pages_.stats = &stats_;
  }

  BackupResult run() {
    begin_manifest();
    choose_parent();
    std::jthread scanner;
    if (ctx_.progress && o_.scan_totals) scanner = start_scanner(plan_, ctx_.progress, o_.filter);
    if (parent_tree_) advance_parent();
    source::walk(
        plan_, [&](const source::WalkItem& item) { visit(item); },
        [&](const std::string& path, const std::string& error) {
          warn("cannot read " + path + ": " + error);
        },
        o_.filter);
    drain(0);
    file_pool_.wait();
    chunk_pool_.wait();
    if (scanner.joinable()) scanner.request_stop();
    ctx_.check_cancelled("backup");
    finish_manifest();
    return std::move(result_);
  }

 private:
  void begin_manifest() {
    repo::Manifest& m = result_.manifest;
    m.type = o_.type;
    m.host = o_.host.empty() ? host_name() : o_.host;
    m.user = user_name();
    m.paths = plan_.abs_paths;
    m.root = plan_.root;
    m.tags = o_.tags;
    m.config_source = o_.config_source;
    m.time_ns = now_ns();
    m.source = o_.source;
    if (m.source.empty())
      for (const auto& p : m.paths) m.source += (m.source.empty() ? "" : " ") + p;
  }

  // The parent: given, or the newest backup of the same type and paths from the same host.
  void choose_parent() {
    repo::Manifest& m = result_.manifest;
    if (o_.parent) {
      if (!o_.parent->id.empty()) parent_ = o_.parent;
    } else {
      // A damaged manifest cannot be a parent (verify reports it); the backup goes on without it
      // (an older parent only means more reading), and says so.
      repo::ManifestScan scan = repo_.scan_manifests();
      for (const auto& d : scan.damaged)
        ctx_.log().warn("backup", "backup " + d.id + " cannot be read (" + d.error +
                                      ") and is not considered as the parent");
      parent_ = newest_matching(scan.readable, m.type, m.host, m.paths);
    }
    if (parent_) {
      m.parent = parent_->id;
      // A write-only key cannot read the parent's tree (it is in packs): every file is read and
      // chunked; deduplication through the index keeps the stored bytes the same.
      if (!repo_.write_only()) parent_tree_.emplace(repo_, *parent_);
    }
  }

  // Moves to the parent's next entry. A parent whose tree cannot be read is dropped (with a
  // warning): this backup then reads every file, instead of failing like every backup after it.
  void advance_parent() {
    try {
      pcur_ = parent_tree_->next();
    } catch (const Error& err) {
      if (err.code() != Errc::kCorrupt && err.code() != Errc::kNotFound) throw;
      warn("the previous backup " + parent_->id + " cannot be read (" + err.what() +
           "); reading every file");
      parent_tree_.reset();
      pcur_.reset();
      result_.manifest.parent.clear();
    }
  }

  void warn(const std::string& msg) {
    std::lock_guard g(mu_);
    ++result_.warnings;
    ctx_.log().warn("backup", msg);
  }

  // The entry of a walked item; nullopt when it is left out (a socket, an unreadable symlink).
  std::optional<Entry> make_entry(const source::WalkItem& item) {
    Entry e;
    try {
      e = entry_from_stat(item, names_);
    } catch (const Error&) {
      return std::nullopt;  // sockets are not backed up
    }
    if (e.kind == EntryKind::kSymlink) {
      std::string target(static_cast<size_t>(item.st.st_size) + 1, '\0');
      ssize_t n = ::readlink(item.abs.c_str(), target.data(), target.size());
      if (n <= 0) {
        warn("cannot read symlink " + item.abs + ": " + std::strerror(errno));
        return std::nullopt;
      }
      target.resize(static_cast<size_t>(n));
      e.link_target = target;
    }
    if (e.kind == EntryKind::kFile && item.st.st_nlink > 1) {
      auto key = std::make_pair(e.device, e.inode);
      if (auto it = hardlinks_.find(key); it != hardlinks_.end()) {
        e.kind = EntryKind::kHardlink;
        e.link_target = it->second;
        e.size = 0;
      } else {
        hardlinks_.emplace(key, e.path);
      }
    }
    return e;
  }

  // For a file: reuse the parent's chunk list, or mark the slot to be read (page by page for
  // block files). Returns true when the file must be read.
  bool decide(Slot& slot) {
    Entry& e = slot.entry;
    while (pcur_ && path_less(pcur_->path, e.path)) advance_parent();
    if (pcur_ && unchanged_since_parent(*pcur_, e, parent_->time_ns) &&
        chunks_present(repo_, *pcur_)) {
      e.chunks = pcur_->chunks;
      repo::copy_page_map(*pcur_, e);
      slot.reused = true;
      if (ctx_.progress) ctx_.progress->bytes += e.size;
      return false;
    }
    if (o_.block_file && o_.block_file(e.path)) {
      slot.block = true;
      if (pcur_ && pcur_->path == e.path && pcur_->kind == EntryKind::kFile &&
          chunks_present(repo_, *pcur_))
        slot.parent = *pcur_;
    }
    return true;
  }

  void visit(const source::WalkItem& item) {
    ctx_.check_cancelled("backup");
    auto e = make_entry(item);
    if (!e) return;
    auto slot = std::make_shared<Slot>();
    slot->abs = item.abs;
    slot->entry = std::move(*e);
    bool read = slot->entry.kind == EntryKind::kFile && decide(*slot);
    if (!read) slot->done = true;
    {
      std::lock_guard g(mu_);
      pending_.push_back(slot);
    }
    if (read)
      file_pool_.submit([this, slot] { read_slot(*slot); });
    else if (ctx_.progress && slot->entry.kind == EntryKind::kFile)
      ++ctx_.progress->files;
    drain(kMaxPendingEntries);
  }

  // On a file worker: reads the file; an unreadable one is skipped with a warning.
  void read_slot(Slot& slot) {
    try {
      if (slot.block)
        read_block(repo_, chunk_pool_, ctx_, slot.abs, slot.parent ? &*slot.parent : nullptr,
                   pages_, slot.entry, [this](const std::string& m) { warn(m); });
      else
        read_regular_file(pipeline_, slot.abs, slot.entry);
    } catch (const Error& err) {
      if (err.code() != Errc::kSourceUnreadable) {
        fail(slot);
        throw;
      }
      slot.skip = true;
      warn(err.what());
    } catch (...) {
      fail(slot);
      throw;
    }
    std::lock_guard g(mu_);
    slot.done = true;
    if (ctx_.progress) ++ctx_.progress->files;
    cv_.notify_all();
  }

  void fail(Slot& slot) {
    std::lock_guard g(mu_);
    slot.failed = slot.done = true;
    cv_.notify_all();
  }

  // Emits finished entries from the front, in walk order, until at most `keep` are pending.
  void drain(size_t keep) {
    for (;;) {
      std::shared_ptr<Slot> front;
      {
        std::unique_lock g(mu_);
        if (pending_.size() <= keep) return;
        cv_.wait(g, [&] { return pending_.front()->done || file_pool_.failed(); });
        if (!pending_.front()->done) break;
        front = pending_.front();
        pending_.pop_front();
      }
      if (front->failed) break;
      emit(*front);
    }
    file_pool_.wait();  // a worker failed: rethrow its error
    throw Error(Errc::kInternal, "a file worker failed without an error");
  }

  void emit(const Slot& s) {
    if (s.skip) {
      if (s.entry.kind == EntryKind::kFile) skipped_files_.insert(s.entry.path);
      return;
    }
    if (s.entry.kind == EntryKind::kHardlink && skipped_files_.count(s.entry.link_target)) {
      warn("skipping hardlink " + s.abs + ": its first link could not be read");
      return;
    }
    if (s.reused) ++result_.reused_files;
    totals_.add(s.entry);
    tree_.add(s.entry);
  }

  void finish_manifest() {
    repo::Manifest& m = result_.manifest;
    m.tree = tree_.finish();
    repo_.flush();
    m.size = totals_.size;
    m.stored_size = totals_.stored;
    m.file_count = totals_.files;
    m.dir_count = totals_.dirs;
    m.added_size = stats_.added_bytes;
    m.end_time_ns = now_ns();
    if (o_.save) repo_.save_manifest(m);
  }

  repo::Repository& repo_;
  const FilesBackupOptions& o_;
  const OpContext& ctx_;
  const source::WalkPlan& plan_;
  BackupResult result_;
  std::optional<repo::Manifest> parent_;
  std::optional<repo::TreeReader> parent_tree_;
  std::optional<Entry> pcur_;
  repo::WriteStats stats_;  // what this backup adds (outlives the pools below)
  PageOptions pages_;       // o_.pages, counting into stats_
  repo::TreeWriter tree_{repo_, &stats_};
  Totals totals_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Slot>> pending_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> hardlinks_;
  NameCache names_;
  std::set<std::string> skipped_files_;  // unreadable files, so their hardlinks are skipped too
  // The pools come last: on an error their destructors wait for running tasks, which use the
  // state above, so that state must outlive them.
  const size_t threads_ = WorkerPool::default_threads();
  WorkerPool chunk_pool_{threads_, 2 * threads_};
  ChunkPipeline pipeline_{repo_, chunk_pool_, ctx_, &stats_};
  WorkerPool file_pool_{threads_, 4 * threads_};
};

// The output of a command as one file entry (the command must exit 0).
Entry store_command_output(ChunkPipeline& pipeline, const CommandBackupOptions& o,
                           repo::Manifest& m, const OpContext& ctx) {
  Entry e;
  e.kind = EntryKind::kFile;
  e.path = o.name;
  e.mode = 0600;
  e.uid = ::geteuid();
  e.gid = ::getegid();
  e.mtime_ns = m.time_ns;
  source::CommandProcess proc(o.command);
  // A command that goes quiet (blocked, waiting) would keep the reader in read() forever: on
  // cancellation the command is killed, the reader sees the end of its output, and the pipeline
  // reports the cancellation.
  std::jthread watcher;
  if (ctx.cancel)
    watcher = std::jthread([&proc, &ctx](std::stop_token st) {
      while (!st.stop_requested())
        if (ctx.cancel->wait_for(0.1)) return proc.kill();
    });
  e.size = pipeline.store_stream(proc.stdout_fd(), std::nullopt, e.chunks, "command output");
  ctx.check_cancelled("backup");
  m.exit_status = proc.wait();
  if (m.exit_status != 0) {
    std::string err = proc.stderr_tail();
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    throw Error(Errc::kCommandFailed,
                "command `" + o.command + "` exited with status " + std::to_string(m.exit_status) +
                    "; no backup was recorded" + (err.empty() ? "" : "; its stderr:\n" + err));
  }
  return e;
}
}  // namespace

nlohmann::json BackupResult::to_json() const {
  nlohmann::json j = manifest.to_listing_json();
  j["warnings"] = warnings;
  return j;
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string user_name() {
  if (struct passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

BackupResult backup_files(repo::Repository& repo, const FilesBackupOptions& options,
                          const OpContext& ctx) {
  source::WalkPlan plan = source::plan_walk(options.paths);
  std::unique_ptr<repo::RepoLock> lock;
  if (options.take_lock)
    lock = acquire_waiting(repo, "backup", false, options.lock_wait_seconds, ctx);
  repo.load_index();
  warn_missing_packs(repo, ctx);  // chunks whose pack is gone are stored again
  return FilesBackup(repo, options, ctx, plan).run();
}

BackupResult backup_command(repo::Repository& repo, const CommandBackupOptions& options,
                            const OpContext& ctx) {
  if (options.command.empty()) throw Error(Errc::kUsage, "--command is empty");
  if (!repo::valid_relative_path(options.name) || options.name.find('/') != std::string::npos)
    throw Error(Errc::kUsage, "--name must be a plain name (no '/', not '.' or '..')");
  auto lock = acquire_waiting(repo, "backup", false, options.lock_wait_seconds, ctx);
  repo.load_index();
  warn_missing_packs(repo, ctx);  // chunks whose pack is gone are stored again
  BackupResult result;
  repo::Manifest& m = result.manifest;
  m.type = "command";
  m.host = options.host.empty() ? host_name() : options.host;
  m.user = user_name();
  m.name = options.name;
  m.command = options.command;
  m.source = "command:" + options.name;
  m.tags = options.tags;
  m.config_source = options.config_source;
  m.time_ns = now_ns();

  repo::WriteStats stats;  // what this backup adds (outlives the pool below)
  const size_t threads = WorkerPool::default_threads();
  WorkerPool chunk_pool(threads, 2 * threads);
  ChunkPipeline pipeline(repo, chunk_pool, ctx, &stats);
  Entry e = store_command_output(pipeline, options, m, ctx);
  ctx.check_cancelled("backup");
  repo::TreeWriter tree(repo, &stats);
  tree.add(e);
  Totals totals;
  totals.add(e);
  m.tree = tree.finish();
  repo.flush();
  m.size = e.size;
  m.stored_size = totals.stored;
  m.file_count = 1;
  m.added_size = stats.added_bytes;
  m.end_time_ns = now_ns();
  repo.save_manifest(m);
  return result;
}

}  // namespace sr::ops
