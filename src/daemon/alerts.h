// daemon/alerts.h: the built-in alert rules (docs/daemon.md, "Alerts") and their life cycle.
//
// evaluate_rules() is pure: from the catalog snapshot, the last finished jobs and the streams it
// returns the conditions that hold now. AlertEngine::reconcile() turns them into alerts kept in
// the state database: a new condition fires (notified once), a firing one is notified again
// every alerts.repeat_every, one that no longer holds resolves (notified). A notification is
// recorded as sent only once a notifier delivered it, so one that was queued when the daemon
// stopped is sent after the restart: no alert is lost across restarts.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/catalog.h"
#include "daemon/state_db.h"

namespace sr::daemon {

struct AlertCondition {
  std::string rule, source, severity, summary;
  std::string key() const { return rule + "/" + source; }
};

struct StreamState {
  bool running = false;
  int64_t down_since_ns = 0;  // when not running
};

struct AlertInputs {
  const Snapshot* snapshot = nullptr;
  const config::Config* config = nullptr;
  std::vector<JobRecord> last_jobs;  // StateDb::last_finished_jobs()
  std::map<std::string, StreamState> streams;
  int64_t now_ns = 0, daemon_started_ns = 0;
};

std::vector<AlertCondition> evaluate_rules(const AlertInputs& in);

// The notifiers an alert goes to: every route that matches it (an alert no route matches is only
// shown, not sent).
std::vector<const config::NotifierConfig*> routes_for(const config::Config& c,
                                                      const AlertRecord& a);

// The message notifiers send (webhook body, command stdin, e-mail text).
nlohmann::json alert_message(const AlertRecord& a, const std::string& event,
                             const std::string& host);

// Delivers one message to one notifier; returns false (after its own retries) when it could
// not. Called on the refresher's thread.
using Deliver = std::function<bool(const config::NotifierConfig&, const nlohmann::json& message)>;

class AlertEngine {
 public:
  AlertEngine(StateDb& db, Deliver deliver, std::string host);
  // Updates the alerts to `holding` and sends what is due (on the caller's thread: the
  // refresher, never a request thread).
  void reconcile(const std::vector<AlertCondition>& holding, const config::Config& c,
                 int64_t now_ns);

 private:
  // Sends `event` to the alert's notifiers (or those of `only`) that did not take it yet.
  void send(AlertRecord& a, const std::string& event, const config::Config& c, int64_t now_ns,
            const std::set<std::string>* only = nullptr);
  StateDb& db_;
  Deliver deliver_;
  std::string host_;
  // Notifiers that already took the pending message of an alert (key: alert id and event), so a
  // notifier that failed is retried alone, without repeating the message to the others.
  std::map<std::string, std::set<std::string>> delivered_;
  std::set<std::string> failed_this_pass_;
  // Alerts resolved before every notifier heard them fire: who must hear the resolution.
  std::map<int64_t, std::set<std::string>> pending_resolution_;
};

}  // namespace sr::daemon
