// app/cmd_wal.cc: `strongroom wal-push` (archive_command, synchronous or with an asynchronous
// spool and its background pusher) and `strongroom wal-get` (restore_command, with prefetching).
#include <chrono>
#include <cstdio>
#include <thread>

#include "app/commands.h"
#include "app/common.h"
#include "app/detach.h"
#include "base/fs.h"
#include "base/lsn.h"
#include "ops/wal_archive.h"
#include "ops/wal_spool.h"

namespace sr::app {
namespace {

struct WalPushArgs {
  RepoArgs repo;
  std::string path, spool;
};

struct WalGetArgs {
  RepoArgs repo;
  std::string name, dest;
  int prefetch = 0;
};

// Starts a detached pusher for the spool; its lines go to the spool's pusher.log.
void start_pusher(const RepoArgs& repo, const std::string& spool) {
  run_detached("pusher", spool + "/pusher.log", [&] {
    CommandRun run(false, true);
    ops::run_pusher([&] { return open_repo(repo); }, {repo.stanza, spool, 10.0}, run.ctx());
  });
}

int push_async(const WalPushArgs& a) {
  // Pushed ahead by the background pusher, else now, else spooled locally.
  ops::note_wal_source(a.spool, a.path);
  if (!ops::pusher_running(a.spool)) {
    start_pusher(a.repo, a.spool);
    // Give it a moment to take its lock, so that this call waits for it instead of pushing the
    // same segment at the same time.
    for (int i = 0; i < 100 && !ops::pusher_running(a.spool); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  CommandRun run(false, false, "strongroom: ");
  auto r = ops::async_push([&] { return open_repo(a.repo); }, {a.repo.stanza, a.spool, a.path},
                           run.ctx());
  if (a.repo.json) print_json(r.to_json());
  return 0;
}

int run_wal_push(const WalPushArgs& a) {
  if (!a.spool.empty()) return push_async(a);
  auto repo = open_repo(a.repo);
  CommandRun run(false, false, "strongroom: ");
  auto r = ops::wal_push(*repo, {a.repo.stanza, a.path, 0}, run.ctx());
  if (a.repo.json) print_json(r.to_json());
  return 0;
}

int run_wal_get(const WalGetArgs& a) {
  std::string dir = dirname_of(a.dest) + "/strongroom-prefetch";
  bool found = a.prefetch > 0 && ops::take_prefetched(dir, a.name, a.dest);
  std::unique_ptr<repo::Repository> repo;
  if (!found) {
    repo = open_repo(a.repo);
    if (!ops::wal_get(*repo, a.repo.stanza, a.name, a.dest)) {
      std::fprintf(stderr, "strongroom: %s is not in the repository (stanza %s)\n", a.name.c_str(),
                   a.repo.stanza.c_str());
      return 1;
    }
  }
  if (a.prefetch > 0 && pg::is_segment_file_name(a.name)) {
    // Fetch the next segments in a detached process while PostgreSQL replays this one.
    // Prefetching is an optimisation: on any failure the next wal-get fetches directly.
    run_detached("prefetch", "", [&] {
      auto r = repo ? std::move(repo) : open_repo(a.repo);
      ops::prefetch(*r, a.repo.stanza, dir, a.name, a.prefetch);
    });
  }
  return 0;
}

}  // namespace

void add_wal_commands(CLI::App& app, int& result) {
  auto p = std::make_shared<WalPushArgs>();
  auto* push = app.add_subcommand(
      "wal-push", "Archive a WAL file (use as archive_command: strongroom wal-push … %p)");
  add_repo_options(push, p->repo, true);
  add_stanza_option(push, p->repo, "PostgreSQL cluster in the repository");
  add_source_option(push, p->repo);
  push->add_option("path", p->path, "The WAL file (%p)")->required();
  push->add_option(
      "--async-spool", p->spool,
      "Asynchronous: spool the file durably in this local directory and return; a "
      "background pusher sends the spool to the repository (also while it is unreachable)");
  push->callback([p, &result] { result = run_wal_push(*p); });

  auto g = std::make_shared<WalGetArgs>();
  auto* get = app.add_subcommand(
      "wal-get", "Fetch a WAL file (use as restore_command: strongroom wal-get … %f %p)");
  add_repo_options(get, g->repo, false);
  add_stanza_option(get, g->repo, "PostgreSQL cluster in the repository");
  add_source_option(get, g->repo);
  get->add_option("name", g->name, "The WAL file name (%f)")->required();
  get->add_option("dest", g->dest, "Where to write it (%p)")->required();
  get->add_option("--prefetch", g->prefetch,
                  "Fetch this many following segments in the background (replay does not wait "
                  "for one round trip per segment)");
  get->callback([g, &result] { result = run_wal_get(*g); });
}

}  // namespace sr::app
