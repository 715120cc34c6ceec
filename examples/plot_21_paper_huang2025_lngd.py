"""
Paper gallery: huang2025-lngd
=============================

W. Huang, A. Han et al., How does label noise gradient descent improve
generalization in the low SNR regime?, NeurIPS 2025 (arXiv 2510.17526).

The entry ``huang2025-lngd`` of the paper gallery in its quick mode: smaller grids,
fewer steps and seeds than the full run of :doc:`/papers/huang2025-lngd`, so its
verdicts may differ from the page's. The same call without ``quick=True``
(or ``labelnoise-sim reproduce huang2025-lngd --out DIR``) is the full run.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from labelnoise_sim.papers import reproduce

if __name__ == "__main__":  # the gallery's sweeps may start worker processes, which import this script again
    with tempfile.TemporaryDirectory() as out:
        outcome = reproduce("huang2025-lngd", out, quick=True, progress=False)
        print(outcome.summary())

        # every figure the run wrote, as it wrote it
        for png in sorted(Path(out).glob("*.png")):
            image = plt.imread(png)
            fig = plt.figure(figsize=(image.shape[1] / 130, image.shape[0] / 130))
            fig.figimage(image)
