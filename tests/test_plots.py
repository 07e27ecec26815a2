"""The prediction figure: per-image mIoU titles, constrained layout keeping the legend inside."""

import numpy as np
import pytest

from minisegnet import plots


def test_image_miou_matches_the_hand_count():
    pred = np.array([[0, 1], [1, 1]])
    truth = np.array([[0, 1], [2, 1]])
    # class 0: 1/1, class 1: 2/3, class 2: 0/1, class 3 absent from both: left out
    assert plots.image_miou(pred, truth, 4) == pytest.approx((1 + 2 / 3 + 0) / 3)


@pytest.mark.parametrize(
    "n,names",
    [
        (12, ("background", "circle", "square", "triangle")),
        (2, tuple(f"digit class {i}" for i in range(11))),
    ],
)
def test_prediction_grid_titles_and_legend_fit(tmp_path, monkeypatch, n, names):
    figures = []
    make = plots._figure

    def keep(**kw):
        fig = make(**kw)
        figures.append(fig)
        return fig

    monkeypatch.setattr(plots, "_figure", keep)
    rng = np.random.default_rng(0)
    k = len(names)
    masks = rng.integers(0, k, (n, 8, 8))
    preds = masks.copy()
    preds[:, :4] = 0  # half of each image called background
    plots.plot_predictions(
        rng.random((n, 3, 8, 8)), masks, preds, names, tmp_path / "g.png", title="t"
    )
    fig = figures[0]
    titles = [ax.get_title() for ax in fig.axes[2::3]]
    want = [f"prediction (mIoU {plots.image_miou(p, m, k):.2f})" for p, m in zip(preds, masks)]
    assert titles == want and all(0 < plots.image_miou(p, m, k) < 1 for p, m in zip(preds, masks))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # the layout as saved (dpi 100)
    renderer = canvas.get_renderer()
    box = fig.bbox
    legend = (fig.legends or [ax.get_legend() for ax in fig.axes if ax.get_legend()])[0]
    lb = legend.get_window_extent(renderer)
    assert box.x0 - 1 <= lb.x0 and lb.x1 <= box.x1 + 1 and box.y0 - 1 <= lb.y0  # not clipped
    for ax in fig.axes:  # the legend overlaps no panel
        assert not lb.overlaps(ax.get_window_extent(renderer))
    tb = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    for i in range(len(fig.axes)):  # no title runs into the panel above it
        for j, b in enumerate(fig.axes):
            if i != j:
                assert not tb[i].overlaps(b.get_window_extent(renderer))
