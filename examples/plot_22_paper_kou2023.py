"""
Paper gallery: kou2023
======================

Y. Kou, Z. Chen, Y. Chen, Q. Gu, Benign Overfitting in Two-layer ReLU
Convolutional Neural Networks, ICML 2023.

The entry ``kou2023`` of the paper gallery in its quick mode: smaller grids,
fewer steps and seeds than the full run of :doc:`/papers/kou2023`, so its
verdicts may differ from the page's. The same call without ``quick=True``
(or ``labelnoise-sim reproduce kou2023 --out DIR``) is the full run.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from labelnoise_sim.papers import reproduce

if __name__ == "__main__":  # the gallery's sweeps may start worker processes, which import this script again
    with tempfile.TemporaryDirectory() as out:
        outcome = reproduce("kou2023", out, quick=True, progress=False)
        print(outcome.summary())

        # every figure the run wrote, as it wrote it
        for png in sorted(Path(out).glob("*.png")):
            image = plt.imread(png)
            fig = plt.figure(figsize=(image.shape[1] / 130, image.shape[0] / 130))
            fig.figimage(image)
