#include "ops/restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <set>

#include "base/fs.h"
#include "base/random.h"
#include "base/time_util.h"
#include "ops/block_file.h"
#include "ops/restore_parts.h"
#include "repo/lock.h"
#include "repo/tree_stream.h"

namespace sr::ops {

using repo::Entry;
using repo::EntryKind;
using namespace restore_parts;

namespace {
constexpr uint64_t kTaskBytes = 8ull << 20;
// Files below this size are restored in batches of up to kBatchFiles files / kTaskBytes.
constexpr uint64_t kBatchFileBytes = 1ull << 20;
constexpr size_t kBatchFiles = 64;  // open descriptors: a few batches in flight
constexpr uint64_t kDirectMinFile = 1ull << 20;

bool is_root() { return ::geteuid() == 0; }

// One run of restore_files: a pass over the tree that creates every entry, hands file contents
// to the pool, and applies directory metadata when the walk leaves a directory.
class FilesRestore {
 public:
  FilesRestore(repo::Repository& repo, const repo::Manifest& m, const RestoreOptions& o,
               const OpContext& ctx)
      : repo_(repo), m_(m), o_(o), ctx_(ctx), replace_(o.force || o.delta) {}

  RestoreResult run() {
    auto lock = repo::RepoLock::acquire_for_reading(repo_, "restore", &ctx_.log());
    repo_.load_index();
    mkdirs(o_.target, 0700);
    root_ = open_or_throw(o_.target, O_RDONLY | O_DIRECTORY);
    if (Counters* c = ctx_.progress) {
      c->total_bytes = m_.size;
      c->total_files = m_.file_count;
      c->total_known = true;
    }
    open_roots();
    if (o_.delta) {
      result_.removed = remove_extraneous(repo_, m_, root_.get(), "", roots_);
      for (const auto& mv : roots_.moved)
        result_.removed += remove_extraneous(repo_, m_, mv.fd.get(), mv.prefix, roots_);
    }
    walk_tree();
    if (!pool_.failed()) flush_batch();
    pool_.wait();
    while (!open_dirs_.empty()) close_dir();
    // Every file system written: the target's, and those of relocated directories (tablespaces
    // mapped elsewhere may be on another one), once each.
    std::set<dev_t> synced;
    auto sync_fs = [&synced](int fd, const std::string& where) {
      struct stat st;
      if (::fstat(fd, &st) != 0) throw_errno("cannot stat " + where);
      if (!synced.insert(st.st_dev).second) return;
      if (::syncfs(fd) != 0) throw_errno("cannot sync " + where);
    };
    if (o_.durable) {
      sync_fs(root_.get(), o_.target);
      for (const auto& mv : roots_.moved) sync_fs(mv.fd.get(), mv.dest);
    }
    result_.bytes_unchanged = unchanged_;
    return std::move(result_);
  }

 private:
  // The destinations of relocated directories (created; empty unless force or delta).
  void open_roots() {
    roots_.target = root_.get();
    roots_.target_path = o_.target;
    for (const auto& r : o_.relocate) {
      if (!repo::valid_relative_path(r.dir) ||
          (!r.inside.empty() && !repo::valid_relative_path(r.inside)))
        throw Error(Errc::kUsage, "cannot relocate '" + r.dir + "': not a relative path");
      if (path_exists(r.dest) && !dir_is_empty(r.dest) && !o_.force && !o_.delta)
        throw Error(Errc::kAlreadyExists, "restore destination " + r.dest + " of " + r.dir +
                                              " is not empty; choose an empty directory or pass "
                                              "--delta to update it");
      Fd fd;
      if (r.inside.empty()) {
        mkdirs(r.dest, 0700);
        fd = Fd(::open(r.dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) throw_errno("cannot open " + r.dest);
      } else {
        fd = mkdirs_beneath(root_.get(), r.inside, 0700);
        roots_.reserved.push_back(split_first(r.inside));
      }
      roots_.moved.push_back({r.dir, r.dest, std::move(fd)});
    }
  }

  void walk_tree() {
    repo::TreeReader tree(repo_, m_);
    while (auto e = tree.next()) {
      ctx_.check_cancelled("restore");
      // Directories whose entries are still being created. A directory's metadata is applied
      // when the walk leaves it (children first), so a read-only or non-searchable mode never
      // blocks the creation of its own entries, and its mtime is set after they changed it.
      while (!open_dirs_.empty() && !inside(e->path, open_dirs_.back().path)) close_dir();
      if (!o_.same_owner) {
        e->uid = ::geteuid();
        e->gid = ::getegid();
        e->mode &= ~static_cast<uint32_t>(S_ISUID | S_ISGID);
      }
      restore_entry(std::move(*e));
      if (pool_.failed()) break;
    }
  }

  static bool inside(const std::string& path, const std::string& dir) {
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           path[dir.size()] == '/';
  }

  void close_dir() {
    const Entry& d = open_dirs_.back();
    const Roots::Moved* mv = roots_.relocated(d.path);
    auto [droot, drel, dwhere] = roots_.locate(d.path);
    Fd fd(mv ? ::fcntl(mv->fd.get(), F_DUPFD_CLOEXEC, 0)
             : open_beneath(droot, drel, O_RDONLY | O_DIRECTORY));
    if (!fd) throw_errno("cannot open directory " + d.path);
    set_fd_metadata(fd.get(), d);
    open_dirs_.pop_back();
  }

  static std::string split_first(const std::string& path) { return path.substr(0, path.find('/')); }

  void restore_entry(Entry&& e) {
    if (roots_.is_reserved(e.path))
      throw Error(Errc::kCorrupt, "the backup holds " + e.path + ", where this restore puts " +
                                      "relocated directories (tablespaces); map them elsewhere "
                                      "(--tablespace-map, --tablespace-dir)");
    auto [eroot, erel, ewhere] = roots_.locate(e.path);
    auto [dir, name] = split_path(erel);
    int pfd = parents_.get(eroot, dir, ewhere);
    if (e.kind == EntryKind::kDir && roots_.relocated(e.path)) {
      // A relocated directory: a symlink to its destination (which gets its metadata).
      clear_existing(pfd, name, false);
      if (::symlinkat(roots_.relocated(e.path)->dest.c_str(), pfd, name.c_str()) != 0)
        throw_errno("cannot create symlink " + e.path);
      ++result_.dirs;
      open_dirs_.push_back(std::move(e));
      return;
    }
    switch (e.kind) {
      case EntryKind::kDir:
        if (replace_) clear_existing(pfd, name, true);
        if (::mkdirat(pfd, name.c_str(), 0700) != 0 && errno != EEXIST)
          throw_errno("cannot create directory " + e.path);
        ++result_.dirs;
        open_dirs_.push_back(std::move(e));
        break;
      case EntryKind::kFile:
        restore_file(std::move(e), pfd, name);
        break;
      case EntryKind::kHardlink:
        restore_hardlink(e, pfd, name);
        break;
      case EntryKind::kSymlink:
        if (replace_) clear_existing(pfd, name, false);
        if (::symlinkat(e.link_target.c_str(), pfd, name.c_str()) != 0)
          throw_errno("cannot create symlink " + e.path);
        set_owner_and_times(pfd, name, e, AT_SYMLINK_NOFOLLOW);
        break;
      case EntryKind::kFifo:
      case EntryKind::kCharDev:
      case EntryKind::kBlockDev:
        restore_special(e, pfd, name);
        break;
    }
  }

  // Opens the file: in a delta restore an existing single-link regular file is updated in
  // place; otherwise whatever stands there is replaced (force/delta) and the file created.
  std::shared_ptr<OpenFile> open_file(const Entry& e, int pfd, const std::string& name) {
    auto f = std::make_shared<OpenFile>();
    int fd = -1;
    struct stat st;
    if (o_.delta && ::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && st.st_nlink == 1) {
      fd = ::openat(pfd, name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) throw_errno("cannot open " + e.path + " in the target");
      f->existing = true;
      f->unchanged = &unchanged_;
      f->page_hash_seed = o_.page_hash_seed;
      if (e.page_size) f->page_map = load_page_map(repo_, e);
    } else {
      if (replace_) clear_existing(pfd, name, false);
      fd = ::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) throw_errno("cannot create " + e.path);
    }
    f->fd = Fd(fd);
    f->early_writeback = !f->existing && o_.write_mode == WriteMode::kBuffered && o_.durable;
    if (!f->existing && e.size >= kDirectMinFile && o_.write_mode == WriteMode::kDirect) {
      // The same file again, for direct writes (if the file system allows them).
      std::string self = "/proc/self/fd/" + std::to_string(fd);
      f->direct = Fd(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
    }
    if (::ftruncate(fd, static_cast<off_t>(e.size)) != 0) throw_errno("cannot size " + e.path);
    return f;
  }

  void restore_file(Entry&& e, int pfd, const std::string& name) {
    auto f = open_file(e, pfd, name);
    f->entry = std::move(e);
    ++result_.files;
    result_.bytes += f->entry.size;
    std::vector<TaskRange> ranges = plan_tasks(f->entry.chunks, kTaskBytes);
    if (ranges.empty()) {
      set_fd_metadata(f->fd.get(), f->entry);
      return;
    }
    if (ranges.size() == 1 && f->entry.size < kBatchFileBytes) {
      // Small files are written in batches: their chunks usually lie back to back in a pack,
      // so a batch costs one ranged read instead of one per file.
      batch_bytes_ += f->entry.size;
      batch_.push_back(std::move(f));
      if (batch_bytes_ >= kTaskBytes || batch_.size() >= kBatchFiles) flush_batch();
      return;
    }
    f->remaining = ranges.size();
    for (const TaskRange& r : ranges)
      pool_.submit([this, f, r] {
        write_file_range(repo_, *f, r, ctx_);
        if (--f->remaining == 0) set_fd_metadata(f->fd.get(), f->entry);
      });
  }

  void flush_batch() {
    if (batch_.empty()) return;
    pool_.submit([this, files = std::move(batch_)] { write_small_files(repo_, files, ctx_); });
    batch_.clear();
    batch_bytes_ = 0;
  }

  void restore_hardlink(const Entry& e, int pfd, const std::string& name) {
    if (skipped_special_.count(e.link_target)) return skip_special(e);
    auto [troot, trel, twhere] = roots_.locate(e.link_target);
    auto [tdir, tname] = split_path(trel);
    Fd tfd(open_beneath(troot, tdir, O_RDONLY | O_DIRECTORY));
    if (!tfd) throw_errno("cannot open directory of hardlink target " + e.link_target);
    if (replace_) clear_existing(pfd, name, false);
    if (::linkat(tfd.get(), tname.c_str(), pfd, name.c_str(), 0) != 0)
      throw_errno("cannot create hardlink " + e.path + " -> " + e.link_target);
    ++result_.files;
  }

  void restore_special(const Entry& e, int pfd, const std::string& name) {
    mode_t type = e.kind == EntryKind::kFifo      ? S_IFIFO
                  : e.kind == EntryKind::kCharDev ? S_IFCHR
                                                  : S_IFBLK;
    if (!o_.special_files) return skip_special(e);
    if (e.kind != EntryKind::kFifo && !is_root()) return;  // devices need root
    if (replace_) clear_existing(pfd, name, false);
    if (::mknodat(pfd, name.c_str(), type | e.mode, static_cast<dev_t>(e.rdev)) != 0)
      throw_errno("cannot create " + e.path);
    if (::fchmodat(pfd, name.c_str(), e.mode, AT_SYMLINK_NOFOLLOW) != 0)
      throw_errno("cannot chmod " + e.path);
    set_owner_and_times(pfd, name, e, AT_SYMLINK_NOFOLLOW);
  }

  void skip_special(const Entry& e) {
    ctx_.log().warn("restore", "skipped " + e.path + " (" +
                                   (e.kind == EntryKind::kHardlink ? "a hardlink to a special file"
                                    : e.kind == EntryKind::kFifo   ? "a FIFO"
                                                                   : "a device node") +
                                   "): --no-special-files");
    skipped_special_.insert(e.path);
    ++result_.special_skipped;
  }

  repo::Repository& repo_;
  const repo::Manifest& m_;
  const RestoreOptions& o_;
  const OpContext& ctx_;
  const bool replace_;
  Fd root_;
  Roots roots_;
  RestoreResult result_;
  std::atomic<uint64_t> unchanged_{0};
  ParentDirs parents_;
  std::vector<std::shared_ptr<OpenFile>> batch_;
  uint64_t batch_bytes_ = 0;
  std::vector<Entry> open_dirs_;  // depth-bounded
  std::set<std::string> skipped_special_;
  // Two workers per core: a worker waiting for the disk leaves the core to another that
  // decrypts and decompresses, so the disk and the CPUs work at the same time (with one per
  // core, each alternated between the two: a 1.5 GB PostgreSQL restore took 1.26-1.47 s
  // instead of 1.10-1.22 s). Last: its destructor waits for tasks that use the state above.
  const size_t threads_ = 2 * WorkerPool::default_threads();
  WorkerPool pool_{threads_, threads_};
};

// Writes the chunks of a command's output to fd.
uint64_t write_output(repo::Repository& repo, const Entry& e, int fd, const std::string& where,
                      const OpContext& ctx) {
  uint64_t bytes = 0;
  for (const auto& c : e.chunks) {
    ctx.check_cancelled("restore");
    Bytes data = c.hole ? Bytes(c.raw_length, 0) : repo.read_chunk(c.id);
    write_all(fd, data, where);
    bytes += data.size();
    if (ctx.progress) ctx.progress->bytes += data.size();
  }
  return bytes;
}

// Moves the finished temporary file into place: replacing (force) or not (link never
// replaces: a file that appeared at target meanwhile is not overwritten).
void publish_output(const std::string& tmp, const std::string& target, bool force) {
  if (force) {
    if (::rename(tmp.c_str(), target.c_str()) != 0) throw_errno("cannot rename " + tmp);
  } else {
    if (::link(tmp.c_str(), target.c_str()) != 0) throw_errno("cannot create " + target);
    ::unlink(tmp.c_str());
  }
}
}  // namespace

WriteMode parse_write_mode(const std::string& s) {
  if (s == "buffered") return WriteMode::kBuffered;
  if (s == "direct") return WriteMode::kDirect;
  throw Error(Errc::kUsage, "write mode must be buffered or direct, not '" + s + "'");
}

nlohmann::json RestoreResult::to_json() const {
  nlohmann::json j = {{"id", id},           {"target", target},
                      {"files", files},     {"dirs", dirs},
                      {"bytes", bytes},     {"bytes_unchanged", bytes_unchanged},
                      {"removed", removed}, {"seconds", seconds}};
  if (special_skipped) j["special_skipped"] = special_skipped;
  return j;
}

RestoreResult restore_files(repo::Repository& repo, const repo::Manifest& m,
                            const RestoreOptions& options, const OpContext& ctx) {
  const double start = monotonic_seconds();
  if (m.type == "command")
    throw Error(Errc::kUsage, "backup " + m.id + " is a " + m.type +
                                  " backup; restore it with --to FILE or --to -");
  if (path_exists(options.target) && !dir_is_empty(options.target) && !options.force &&
      !options.delta)
    throw Error(Errc::kAlreadyExists,
                "restore target " + options.target +
                    " is not empty; choose an empty directory, or pass --delta to update it "
                    "or --force to replace its files");
  RestoreResult r = FilesRestore(repo, m, options, ctx).run();
  r.id = m.id;
  r.target = options.target;
  r.seconds = monotonic_seconds() - start;
  return r;
}

RestoreResult restore_command(repo::Repository& repo, const repo::Manifest& m,
                              const RestoreOptions& options, const OpContext& ctx) {
  const double start = monotonic_seconds();
  const std::string& target = options.target;
  if (m.type != "command")
    throw Error(Errc::kUsage, "backup " + m.id + " is a files backup; restore it with --to DIR");
  auto lock = repo::RepoLock::acquire_for_reading(repo, "restore", &ctx.log());
  repo.load_index();
  repo::TreeReader tree(repo, m);
  auto e = tree.next();
  if (!e || e->kind != EntryKind::kFile)
    throw Error(Errc::kCorrupt, "backup " + m.id + " has no output stream");
  RestoreResult result;
  result.id = m.id;
  result.target = target;
  if (target == "-") {
    result.bytes = write_output(repo, *e, 1, "standard output", ctx);
    result.files = 1;
    result.seconds = monotonic_seconds() - start;
    return result;
  }
  if (path_exists(target) && !options.force)
    throw Error(Errc::kAlreadyExists,
                "restore target " + target + " exists; pass --force to replace it");
  // A fresh, unpredictable name created exclusively: never follows a planted symlink.
  std::string tmp = target + ".tmp-" + random_hex(8);
  Fd out = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  try {
    result.bytes = write_output(repo, *e, out.get(), tmp, ctx);
    if (::fsync(out.get()) != 0) throw_errno("cannot fsync " + tmp);
    out.reset();
    publish_output(tmp, target, options.force);
  } catch (...) {
    out.reset();
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(dirname_of(target));
  result.files = 1;
  result.seconds = monotonic_seconds() - start;
  return result;
}

}  // namespace sr::ops
