"""The recognizer head interface: a second, non-CTC head added in one place trains, evaluates and exports
through the same code as CTC; the CTC path gives exactly what its functions give directly."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from pipeline.deploy.onnx_export import export_onnx
from pipeline.deploy.ort_session import OnnxRecognizer, make_session
from pipeline.evaluation.predict import predict
from pipeline.models import create_model
from pipeline.models.heads import CTC, RecognizerHead, head_of, register_head
from pipeline.models.heads.ctc_decoding import decode_batch
from pipeline.models.heads.losses import frame_lengths
from pipeline.training.fit import FitSettings, fit
from tests.pipeline.test_train import make_fit_inputs, tiny_config


class PositionalHead(RecognizerHead):
    """Frame i reads character i of the line; class 0 ends the text. Cross-entropy, argmax decoding."""

    kind = "positional-test"
    onnx_output = "char_scores"

    def output_lengths(self, model, widths, frames):
        return frame_lengths(model, widths, frames)

    def loss(self, logits, targets, target_lengths, output_lengths):
        frames = logits.shape[1]
        wanted = torch.zeros(logits.shape[:2], dtype=torch.long, device=logits.device)
        mask = torch.zeros(logits.shape[:2], dtype=torch.bool, device=logits.device)
        start = 0
        for line, length in enumerate(target_lengths.tolist()):
            keep = min(length, frames - 1)
            wanted[line, :keep] = targets[start : start + keep]
            mask[line, : keep + 1] = True  # the characters, then the end class
            start += length
        losses = F.cross_entropy(logits.float().transpose(1, 2), wanted, reduction="none")
        return (losses * mask).sum() / mask.sum()

    def decode(self, lines, charset, *, method, beam_width):
        texts = []
        for line in lines:
            ids = line.argmax(-1).tolist()
            ids = ids[: ids.index(0)] if 0 in ids else ids
            texts.append(charset.decode(ids))
        return texts


POSITIONAL = register_head(PositionalHead())


def _positional_model(charset):
    model = create_model("crnn_tiny", num_classes=charset.num_classes)
    model.head_kind = POSITIONAL.kind  # the only change a model makes to use another head
    return model


def test_a_second_head_trains_evaluates_and_exports(tmp_path):
    torch.manual_seed(0)
    config = tiny_config(epochs="1")
    charset, data, device, validate = make_fit_inputs(config)
    model = _positional_model(charset)
    before = [p.detach().clone() for p in model.parameters()]
    result = fit(
        model,
        FitSettings.from_train_config(config.train, epochs=1),
        train_batches=data.train_batches,
        steps_per_epoch=data.steps_per_epoch,
        validate=validate,
        device=device,
        sink=lambda event: None,
    )
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert np.isfinite(result.history[0]["train_loss"]) and np.isfinite(result.history[0]["val_loss"])

    trained = result.eval_model.eval()
    torch_preds = predict(trained, data.test_batches(), charset, device, keep_logits=True)
    first = next(iter(data.test_batches()))
    with torch.no_grad():
        logits = trained(first.images)
    lengths = POSITIONAL.output_lengths(trained, first.widths, logits.shape[1])
    expected = POSITIONAL.decode(
        [logits[i, : lengths[i]] for i in range(len(first.texts))], charset, method="greedy", beam_width=1
    )
    assert torch_preds.predictions[: len(expected)] == expected  # predict decoded with this head, not CTC

    path = tmp_path / "positional.onnx"
    export_onnx(trained, path)
    assert [output.name for output in onnx.load(str(path)).graph.output] == ["char_scores"]
    session = OnnxRecognizer(
        make_session(path),
        trained.output_length,
        trained.width_multiple,
        trained.image_height,
        head_kind=POSITIONAL.kind,
    )
    onnx_preds = predict(session, data.test_batches(), charset, device, keep_logits=True)
    assert onnx_preds.predictions == torch_preds.predictions
    assert onnx_preds.loss == pytest.approx(torch_preds.loss, rel=1e-4)


def test_models_without_a_head_kind_use_ctc_and_unknown_heads_are_refused():
    charset_size = 12
    assert head_of(create_model("crnn_tiny", num_classes=charset_size)) is CTC
    stranger = create_model("crnn_tiny", num_classes=charset_size)
    stranger.head_kind = "no-such-head"
    with pytest.raises(ValueError, match="not registered"):
        head_of(stranger)


def test_the_ctc_head_is_exactly_the_ctc_functions():
    torch.manual_seed(1)
    config = tiny_config()
    charset, data, device, _ = make_fit_inputs(config)
    model = create_model("crnn_tiny", num_classes=charset.num_classes).eval()
    batch = next(iter(data.test_batches()))
    with torch.no_grad():
        logits = model(batch.images)
    lengths = frame_lengths(model, batch.widths, logits.shape[1])
    direct = F.ctc_loss(
        logits.log_softmax(-1).transpose(0, 1),
        batch.targets,
        lengths,
        batch.target_lengths,
        blank=0,
        reduction="mean",
        zero_infinity=True,
    )
    assert torch.equal(CTC.loss(logits, batch.targets, batch.target_lengths, lengths), direct)
    preds = predict(model, [batch], charset, device)
    assert preds.predictions == [
        decode_batch(logits[i : i + 1, : lengths[i]], charset)[0] for i in range(len(batch.texts))
    ]
