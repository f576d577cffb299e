#pragma once
// Private to slurm/*.cpp: libslurm's header with the declarations it leaves out, and the small
// helpers the adapter's files share. The only header that includes <slurm/slurm.h>.
#include <cstdint>
#include <memory>
#include <string>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

// libslurm 22.05 exports these but its public header does not declare them.
extern "C" {
extern slurm_conf_t slurm_conf; // the configuration slurm_init() read
const char* slurm_job_reason_string(enum job_state_reason inx);
}

namespace kakuren::slurm {

/// libslurm's text for an error number, with the number: "Invalid job id specified (error 2017)".
std::string slurm_error_text(int err);
/// slurm_error_text of slurm_get_errno().
std::string last_error_text();

struct JobInfoMsgFree {
    void operator()(job_info_msg_t* msg) const { slurm_free_job_info_msg(msg); }
};
using JobInfoMsgPtr = std::unique_ptr<job_info_msg_t, JobInfoMsgFree>;

/// Loads a job (all tasks for an array job id); nullptr when Slurm does not know it. Throws
/// SlurmError when the controller does not answer.
JobInfoMsgPtr load_job(std::uint32_t job_id);

} // namespace kakuren::slurm
