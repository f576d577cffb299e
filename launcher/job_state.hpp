#pragma once
// A submitted run's state as users see it, from the database and its backend. The database
// is the record (Slurm forgets finished jobs after MinJobAge); the backend corrects it when a
// job ended without telling (a node died, the job was killed, a local process vanished).
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "db/store.hpp"
#include "launcher/backend.hpp"

namespace kakuren::launcher {

/// Backends created on first use, one per name; a backend that cannot be reached is
/// remembered as such (one clear note, no repeated timeouts).
class Backends {
  public:
    /// nullptr when the backend is not usable now; note() says why.
    launcher::Backend* get(const std::string& name);
    [[nodiscard]] const std::string& note() const { return m_note; }
    /// Uses this backend for the name (tests: a fake beside the real ones).
    void set(const std::string& name, std::unique_ptr<launcher::Backend> backend) {
        m_backends[name] = std::move(backend);
    }

  private:
    std::map<std::string, std::unique_ptr<launcher::Backend>> m_backends;
    std::map<std::string, bool> m_failed;
    std::string m_note;
};

/// Updates the run's newest job (and a running attempt it left behind) from the backend:
/// a job the backend reports ended, or no longer knows, while the database still has it
/// pending, running or requeued gets the backend's end state and reason; its running attempt
/// is marked crashed with that reason (the run can be resumed). A failed Slurm job that Slurm
/// put back in the queue (a node failure) becomes requeued. Returns the job, updated.
std::optional<db::JobRow> reconcile(db::Store& store, const db::RunRow& run, Backends& backends);

/// The state shown for a run: pending, running, requeued, completed, failed, cancelled,
/// interrupted or crashed, from its status and its newest job.
std::string display_state(const db::RunRow& run, const std::optional<db::JobRow>& job);

} // namespace kakuren::launcher
