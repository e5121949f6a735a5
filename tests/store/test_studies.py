"""Optuna studies in the store: links to their storages, never a copy of the trials."""

from __future__ import annotations

import json

import pytest

from store import AmbiguousId, Store, StudyNotFound


def test_a_study_is_a_link_and_its_trial_experiments_carry_their_number(tmp_path):
    store = Store(tmp_path)
    study = store.create_study(
        name="int8-search", directions=["minimize", "minimize"], config={"trials": 20},
        storage_url="sqlite:///optuna.db",
    )  # fmt: skip
    assert study["status"] == "created" and study["storage_url"] == "sqlite:///optuna.db"
    assert "trials" not in study and "n_trials" not in study  # trial states are Optuna's alone
    exp_id = store.create_experiment(
        name="trial-0", template="tiny", config={}, model="crnn", study_id=study["id"], trial_number=0
    )["id"]
    baseline = store.create_experiment(
        name="base", template="tiny", config={}, model="crnn", study_id=study["id"]
    )
    store.set_study_status(study["id"], "finished")

    loaded = store.get_study("int8-search")
    assert loaded["status"] == "finished"
    assert store.trial_experiments(study["id"]) == {0: exp_id}  # the baseline is no trial
    assert store.get_study(study["id"][:6])["id"] == study["id"]
    assert [s["name"] for s in store.list_studies()] == ["int8-search"]
    assert {doc["id"] for doc in store.list_experiments(study_id=study["id"])} == {exp_id, baseline["id"]}


def test_a_store_with_the_old_copy_of_trial_states_still_opens_and_sheds_it(tmp_path):
    store = Store(tmp_path)
    study = store.create_study(name="old", directions=["maximize"], config={}, study_id="aaaa00000001")
    path = tmp_path / "studies.json"
    data = json.loads(path.read_text())
    # what older ocrq wrote: counts and best trials on the study, a trials table beside it
    data["studies"]["1"].update({"n_trials": 1, "best_trials": [0]})
    data["trials"] = {
        "1": {"study_id": study["id"], "number": 0, "state": "running", "params": {}, "values": None}
    }
    path.write_text(json.dumps(data))

    loaded = store.get_study("old")
    assert loaded["name"] == "old" and "n_trials" not in loaded and "best_trials" not in loaded
    store.set_study_status(study["id"], "finished")
    data = json.loads(path.read_text())
    assert "trials" not in data and "n_trials" not in data["studies"]["1"]  # no second copy left to disagree
    assert store.get_study("old")["status"] == "finished"


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
    with pytest.raises(StudyNotFound):
        store.set_study_status("cccc00000000", "finished")
    with pytest.raises(ValueError, match="status='over'"):
        store.set_study_status("aaaa00000001", "over")
