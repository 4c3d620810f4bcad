"""minialex.viz: each function returns a Figure with what it was given, and explains bad input."""

from __future__ import annotations

import sys

import pytest

from minialex import backend, tensor, viz

np = backend.np
matplotlib = pytest.importorskip("matplotlib", reason="matplotlib not installed ([plot] extra)")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_filter_grid_shows_each_filter_normalised_in_colour():
    w = np.zeros((5, 3, 4, 4))
    w[0, 0, 0, 0] = 7.0        # one bright pixel, red channel: becomes exactly 1 after scaling
    w[1] = -2.0                # a constant filter: shown as mid-grey 0.5, not NaN
    fig = viz.filter_grid(tensor(w), ncols=3)
    images = _images(fig)
    assert len(images) == 5
    first = np.asarray(images[0].get_array())
    assert first.shape == (4, 4, 3)                     # (KH, KW, RGB)
    assert first[0, 0, 0] == 1.0 and first.min() == 0.0
    assert np.allclose(np.asarray(images[1].get_array()), 0.5)
    assert len(fig.axes) == 6                           # a 2x3 grid, one cell left empty


def test_filter_grid_single_channel_is_grey_and_rejects_wrong_rank():
    fig = viz.filter_grid(np.arange(2 * 1 * 3 * 3, dtype=np.float64).reshape(2, 1, 3, 3))
    assert np.asarray(_images(fig)[0].get_array()).shape == (3, 3)
    with pytest.raises(ValueError, match=r"filter_grid: expected weights \(C_out, C_in, KH, KW\)"
                                         r".*\(3, 3\)"):
        viz.filter_grid(np.zeros((3, 3)))


def test_image_grid_labels_and_shape_errors():
    images = np.random.default_rng(0).random((4, 3, 8, 8)).astype(np.float32)
    fig = viz.image_grid(images, labels=["a", "b", "c", "d"], ncols=2)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match=r"image_grid: expected images \(N, 1 or 3, H, W\)"):
        viz.image_grid(np.zeros((2, 5, 8, 8)))


def test_image_grid_normalize_false_keeps_a_brightness_shift():
    dark = np.full((3, 2, 2), 0.2)
    dark[0, 0, 0] = 0.4                                  # not constant, so rescaling acts
    bright = dark + 0.5                                  # the same image, brighter
    over = dark + 2.0                                    # out of range: clipped to 1
    images = np.stack([dark, bright, over])
    kept = [np.asarray(im.get_array()) for im in _images(viz.image_grid(images,
                                                                         normalize=False))]
    assert np.allclose(kept[0], dark.transpose(1, 2, 0))
    assert np.allclose(kept[1], bright.transpose(1, 2, 0))
    assert np.allclose(kept[2], 1.0)
    rescaled = [np.asarray(im.get_array()) for im in _images(viz.image_grid(images))]
    assert np.allclose(rescaled[0], rescaled[1])         # default: the shift is undone
    assert rescaled[0].min() == 0.0 and rescaled[0].max() == 1.0
    grey = viz.image_grid(np.stack([dark[:1], bright[:1]]), normalize=False)
    assert [im.get_clim() for im in _images(grey)] == [(0.0, 1.0), (0.0, 1.0)]


def test_feature_maps_takes_one_activation_and_caps_the_count():
    a = np.random.default_rng(0).random((1, 10, 6, 6))
    fig = viz.feature_maps(a, max_maps=4)
    assert len(_images(fig)) == 4
    assert np.allclose(np.asarray(_images(fig)[2].get_array()), a[0, 2])
    with pytest.raises(ValueError, match="feature_maps"):
        viz.feature_maps(np.zeros((6, 6)))


def test_plot_curves_and_histogram_draw_what_they_are_given():
    fig = viz.plot_curves({"relu": ([0, 1, 2], [1.0, 0.5, 0.25]), "tanh": ([0, 1], [1, 1])},
                          xlabel="iteration", ylabel="error", hline=0.25, log=True)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines[:2]] == ["relu", "tanh"]
    assert list(ax.lines[0].get_ydata()) == [1.0, 0.5, 0.25]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration"
    assert len(ax.lines) == 3                            # two curves + the dashed target line
    fig = viz.histogram({"fc6": np.arange(10.0)}, bins=5)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [2, 2, 2, 2, 2]                    # 0..9 in five equal bins


def test_missing_matplotlib_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import now fails
    with pytest.raises(ImportError, match=r"pip install -e \"\.\[plot\]\""):
        viz.plot_curves({"a": ([0], [0])})
