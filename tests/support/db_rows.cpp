#include "support/db_rows.hpp"

namespace kakuren::testing {

db::RunRow run_row(const std::string& id, const std::string& created_at) {
    db::RunRow run;
    run.id = id;
    run.name = "fmnist-cnn";
    run.recipe_path = "/work/recipes/fmnist.toml";
    run.recipe_text = "[run]\nname = \"fmnist-cnn\"\n";
    run.recipe_hash = "abc123";
    run.strategy = "kakurenbo";
    run.fraction = 0.3;
    run.seed = 7;
    run.num_samples = 10;
    run.num_epochs = 3;
    run.created_at = created_at;
    run.run_dir = "/work/runs/" + id;
    return run;
}

db::JobRow job_row(const std::string& run_id, const std::string& job_id) {
    db::JobRow job;
    job.run_id = run_id;
    job.backend = "slurm";
    job.job_id = job_id;
    job.host = "login1";
    job.script = "/runs/" + run_id + "/job.sh";
    return job;
}

} // namespace kakuren::testing
