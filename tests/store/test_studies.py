"""Optuna studies and their trials in the store."""

from __future__ import annotations

import pytest

from store import AmbiguousId, Store, StudyNotFound


def test_study_with_trials_round_trip(tmp_path):
    store = Store(tmp_path)
    study = store.create_study(
        name="int8-search", directions=["minimize", "minimize"], config={"trials": 20},
        storage_url="sqlite:///optuna.db",
    )  # fmt: skip
    assert study["status"] == "created" and study["n_trials"] == 0
    exp_id = store.create_experiment(
        name="trial-0", template="tiny", config={}, model="crnn", study_id=study["id"], trial_number=0
    )["id"]
    store.record_trial(
        study["id"], number=0, state="RUNNING", params={"bits": 8}, values=None, experiment_id=exp_id
    )
    store.record_trial(study["id"], number=1, state="pruned", params={"bits": 4}, values=None)
    store.record_trial(study["id"], number=0, state="COMPLETE", params={"bits": 8}, values=[0.12, float("nan")],
                       experiment_id=exp_id)  # fmt: skip
    store.set_study_status(study["id"], "finished", best_trials=[0])

    loaded = store.get_study("int8-search")
    assert loaded["status"] == "finished" and loaded["best_trials"] == [0] and loaded["n_trials"] == 2
    assert [(t["number"], t["state"], t["values"]) for t in loaded["trials"]] == [
        (0, "complete", [0.12, None]), (1, "pruned", None),
    ]  # fmt: skip
    assert store.get_study(study["id"][:6])["id"] == study["id"]
    assert [s["name"] for s in store.list_studies()] == ["int8-search"]
    assert [doc["id"] for doc in store.list_experiments(study_id=study["id"])] == [exp_id]
    assert store.get(exp_id)["trial_number"] == 0


def test_study_errors_name_what_is_allowed(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="minimize, maximize"):
        store.create_study(name="s", directions=["lower"], config={})
    store.create_study(name="s", directions=["maximize"], config={}, study_id="aaaa00000001")
    store.create_study(name="s", directions=["maximize"], config={}, study_id="aaaa00000002")
    with pytest.raises(AmbiguousId, match="2 studies"):
        store.get_study("s")
    with pytest.raises(StudyNotFound, match="no study matches 'bbbb'"):
        store.get_study("bbbb")
    with pytest.raises(ValueError, match="state='done'"):
        store.record_trial("aaaa00000001", number=0, state="done", params={}, values=None)
    with pytest.raises(StudyNotFound):
        store.record_trial("cccc00000000", number=0, state="complete", params={}, values=[1.0])
    with pytest.raises(ValueError, match="status='over'"):
        store.set_study_status("aaaa00000001", "over")
