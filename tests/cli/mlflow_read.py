#!/usr/bin/env python3
"""What MLflow's own client sees in a file store, as JSON on stdout (run by export_e2e_test.py
with the test virtual environment's Python, which has mlflow-skinny from PyPI).

Usage: mlflow_read.py DIR                      every experiment, run, param, tag, metric history
       mlflow_read.py DIR create-experiment NAME     prints {"experiment_id": ...}
       mlflow_read.py DIR set-tag RUN_ID KEY VALUE   a tag set through MLflow, as a user would
"""
import json
import os
import sys

# MLflow 3 refuses a file store unless this is set (it wants a database); the export writes the
# file store that every MLflow version reads.
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

from mlflow.tracking import MlflowClient  # noqa: E402  (after the environment above)


def dump(client):
    out = {"experiments": [], "runs": []}
    experiments = client.search_experiments()
    for e in experiments:
        out["experiments"].append({"experiment_id": e.experiment_id, "name": e.name,
                                   "lifecycle_stage": e.lifecycle_stage})
    ids = [e.experiment_id for e in experiments]
    for r in client.search_runs(ids, max_results=1000):
        metrics = {}
        for key in r.data.metrics:
            metrics[key] = [[m.step, m.value, m.timestamp]
                            for m in client.get_metric_history(r.info.run_id, key)]
        out["runs"].append({
            "run_id": r.info.run_id, "run_name": r.info.run_name,
            "experiment_id": r.info.experiment_id, "status": r.info.status,
            "start_time": r.info.start_time, "end_time": r.info.end_time,
            "artifact_uri": r.info.artifact_uri,
            "params": dict(r.data.params), "tags": dict(r.data.tags), "metrics": metrics})
    return out


def main():
    client = MlflowClient("file://" + os.path.abspath(sys.argv[1]))
    command = sys.argv[2:]
    if not command:
        print(json.dumps(dump(client)))
    elif command[0] == "create-experiment":
        print(json.dumps({"experiment_id": client.create_experiment(command[1])}))
    elif command[0] == "set-tag":
        client.set_tag(command[1], command[2], command[3])
        print("{}")
    else:
        sys.exit(f"mlflow_read.py: unknown command {command[0]}")


if __name__ == "__main__":
    main()
