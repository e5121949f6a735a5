"""Peak memory of running one deployable variant, measured in a process that loads nothing else.

`python -m pipeline.variants.memory_probe --onnx FILE` imports only onnxruntime and numpy (no torch);
`--experiment DIR --variant NAME` loads a torch variant through `pipeline.variants.load.load_recognizer`.
Prints one JSON line: peak_rss_bytes (the whole process), before_load_bytes (after imports, before the
artifact), and model_bytes (the difference: what loading and running the model added).
"""

from __future__ import annotations

import argparse
import json
import resource


def _rss_now() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    # VmHWM belongs to this process image; ru_maxrss would carry over the parent's peak across fork + exec
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--onnx")
    parser.add_argument("--experiment")
    parser.add_argument("--variant")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--input-name", default="images", help="The ONNX model's image input.")
    args = parser.parse_args()
    import numpy as np

    shape = (16, args.channels if args.onnx else 1, args.height, args.width)
    images = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    if args.onnx:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        before = _rss_now()
        session = ort.InferenceSession(args.onnx, sess_options=options, providers=["CPUExecutionProvider"])
        session.run([session.get_outputs()[0].name], {args.input_name: images})
    else:
        from pathlib import Path

        import torch

        torch.set_num_threads(args.threads)
        from pipeline.variants.load import load_recognizer

        before = _rss_now()
        recognizer = load_recognizer(Path(args.experiment), args.variant, threads=args.threads)
        with torch.inference_mode():
            recognizer(torch.from_numpy(images))
    peak = _peak()
    print(
        json.dumps(
            {"peak_rss_bytes": peak, "before_load_bytes": before, "model_bytes": max(0, peak - before)}
        )
    )


if __name__ == "__main__":
    main()
