"""minisegnet.data: the generated shapes, the bundled digits, splits and the DataLoader."""

import math
import sys

import numpy as np
import pytest

from minisegnet import Tensor, backend
from minisegnet.data import (
    DATASET_NAMES,
    SHAPE_KINDS,
    DataLoader,
    SegmentationDataset,
    digits,
    flip_pairs,
    load_dataset,
    load_digit_images,
    load_splits,
    shape_mask,
    shapes,
    split_seed,
    train_val_test_split,
)

from conftest import DEVICES

try:
    import sklearn  # noqa: F401

    SKLEARN_MISSING = None
except ImportError:
    SKLEARN_MISSING = 'scikit-learn is not installed (pip install "minisegnet[datasets]")'
needs_sklearn = pytest.mark.skipif(SKLEARN_MISSING is not None, reason=str(SKLEARN_MISSING))


# ----- shapes -----------------------------------------------------------------------------------


def test_shapes_layout_dtypes_and_ranges():
    ds = shapes(n=12, size=24, seed=3)
    assert ds.images.shape == (12, 3, 24, 24) and ds.images.dtype == np.float32
    assert ds.masks.shape == (12, 24, 24) and ds.masks.dtype == np.int64
    assert ds.images.min() >= 0.0 and ds.images.max() <= 1.0
    assert ds.num_classes == 4 and ds.in_channels == 3 and len(ds) == 12
    assert ds.class_names == ("background", "circle", "square", "triangle")
    assert set(np.unique(ds.masks)) <= {0, 1, 2, 3}
    # every image holds at least one shape, and the background dominates
    assert all((m > 0).any() for m in ds.masks)
    assert 0.6 < ds.class_frequencies()[0] < 0.97


def test_shapes_are_deterministic_by_seed():
    a, b, c = (
        shapes(n=6, size=16, seed=1),
        shapes(n=6, size=16, seed=1),
        shapes(n=6, size=16, seed=2),
    )
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.images, c.images)
    # the first images do not depend on how many are generated after them
    assert np.array_equal(shapes(n=3, size=16, seed=1).masks, a.masks[:3])


def test_every_class_appears_in_balanced_amounts():
    freq = shapes(n=200, size=32, seed=0).class_frequencies()
    assert np.all(freq[1:] > 0.02), freq
    assert freq[1:].max() / freq[1:].min() < 1.6, f"shape classes unbalanced: {freq}"


@pytest.mark.parametrize("k", [2, 6])
def test_number_of_classes_is_configurable(k):
    ds = shapes(n=40, size=32, seed=0, num_classes=k)
    assert ds.num_classes == k and len(ds.class_names) == k
    assert set(np.unique(ds.masks)) == set(range(k))
    assert ds.class_names[1:] == SHAPE_KINDS[: k - 1]


def test_bad_shapes_options_raise_clear_errors():
    with pytest.raises(ValueError, match="num_classes=9.*2 to 6"):
        shapes(n=2, num_classes=9)
    with pytest.raises(ValueError, match="min_shapes <= max_shapes"):
        shapes(n=2, min_shapes=3, max_shapes=2)
    with pytest.raises(ValueError, match="radius"):
        shapes(n=2, radius=(0.3, 0.6))


@pytest.mark.parametrize(
    "kind,area",
    [
        ("circle", math.pi),
        ("square", 4 * 0.886**2),
        ("triangle", 3 * math.sqrt(3) / 4 * 1.55**2),
        ("ring", math.pi * (1 - 0.55**2)),
        ("cross", 4 * 1.1**2 * (2 / 3 - 1 / 9)),
    ],
)
def test_shape_masks_have_the_geometric_area(kind, area):
    """Pixel counts of big rasterised shapes match the formula areas (in units of radius^2)."""
    yy, xx = np.mgrid[0:200, 0:200].astype(float) + 0.5
    r = 60.0
    m = shape_mask(kind, yy, xx, 100.0, 100.0, r, 0.3)
    assert m.sum() / r**2 == pytest.approx(area, rel=0.02)


def test_triangle_has_three_corners_and_square_four():
    """Rotation by 120 degrees maps the triangle onto itself, by 90 degrees the square."""
    yy, xx = np.mgrid[0:200, 0:200].astype(float) + 0.5
    tri = shape_mask("triangle", yy, xx, 100.0, 100.0, 50.0, 0.2)
    tri_rot = shape_mask("triangle", yy, xx, 100.0, 100.0, 50.0, 0.2 + 2 * math.pi / 3)
    tri_90 = shape_mask("triangle", yy, xx, 100.0, 100.0, 50.0, 0.2 + math.pi / 2)
    assert (tri != tri_rot).mean() < 0.002 and (tri != tri_90).mean() > 0.05
    sq = shape_mask("square", yy, xx, 100.0, 100.0, 50.0, 0.2)
    sq_90 = shape_mask("square", yy, xx, 100.0, 100.0, 50.0, 0.2 + math.pi / 2)
    assert (sq != sq_90).mean() < 0.002


def test_labels_line_up_with_the_painted_shape_and_colour_says_nothing():
    ds = shapes(n=300, size=32, seed=5, noise=0.0, max_shapes=1)
    shape_means = {k: [] for k in range(1, 4)}
    for img, mask in zip(ds.images, ds.masks):
        labels = np.unique(mask[mask > 0])
        assert len(labels) == 1
        inside = img[:, mask > 0]
        # a shape is one flat colour, exactly where its label is
        assert np.ptp(inside, axis=1).max() < 1e-6
        outside = img[:, mask == 0]
        assert np.abs(outside - inside[:, :1]).sum(axis=0).min() > 1e-3
        shape_means[int(labels[0])].append(inside[:, 0])
    # random colours: every class's mean colour is close to grey, so colour does not give the class
    means = np.array([np.mean(v, axis=0) for v in shape_means.values()])
    assert np.abs(means - 0.5).max() < 0.12, means


def test_shapes_generation_is_fast():
    """Vectorised over pixels: a few hundred images take a fraction of a second (loose bound)."""
    import time

    t = time.perf_counter()
    shapes(n=300, size=32, seed=0)
    assert time.perf_counter() - t < 5.0


# ----- splits -------------------------------------------------------------------------------------


def test_splits_are_deterministic_and_different():
    tr1 = load_dataset("shapes", "train", n=8, size=16, seed=4)
    tr2 = load_dataset("shapes", "train", n=8, size=16, seed=4)
    va = load_dataset("shapes", "val", n=8, size=16, seed=4)
    assert np.array_equal(tr1.images, tr2.images)
    assert not np.array_equal(tr1.images, va.images)
    assert split_seed(4, "train") != split_seed(4, "val") != split_seed(4, "test")
    splits = load_splits("shapes", 6, 4, 2, size=16, seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 6, "val": 4, "test": 2}


def test_load_dataset_rejects_unknown_names():
    with pytest.raises(ValueError, match="shapes.*digits"):
        load_dataset("cityscapes", "train")
    with pytest.raises(ValueError, match="train.*val.*test"):
        load_dataset("shapes", "holdout")
    assert DATASET_NAMES == ("shapes", "digits")


def test_train_val_test_split_is_a_seeded_partition():
    ds = shapes(n=20, size=16, seed=0)
    ds.images[:, 0, 0, 0] = np.arange(20)  # tag each sample
    parts = train_val_test_split(ds, 0.2, 0.1, seed=3)
    assert [len(p) for p in parts] == [14, 4, 2]
    tags = np.concatenate([p.images[:, 0, 0, 0] for p in parts])
    assert sorted(tags.tolist()) == list(range(20))
    again = train_val_test_split(ds, 0.2, 0.1, seed=3)
    assert np.array_equal(again[1].images, parts[1].images)
    with pytest.raises(ValueError, match="fractions"):
        train_val_test_split(ds, 0.6, 0.5)


def test_dataset_validates_shapes():
    with pytest.raises(ValueError, match=r"masks must be \(N, H, W\)"):
        SegmentationDataset(np.zeros((2, 3, 8, 8)), np.zeros((2, 8, 7)), 2, ("a", "b"))
    with pytest.raises(ValueError, match="class names"):
        SegmentationDataset(np.zeros((2, 3, 8, 8)), np.zeros((2, 8, 8)), 3, ("a", "b"))


# ----- DataLoader ---------------------------------------------------------------------------------


def _tagged(n=10, size=8):
    """Images whose channel 0 equals the mask and channel 1 holds the sample index."""
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 4, (n, size, size))
    images = np.stack(
        [masks.astype(np.float32), np.broadcast_to(np.arange(n)[:, None, None], (n, size, size))],
        axis=1,
    )
    return SegmentationDataset(images, masks, 4, ("bg", "a", "b", "c"))


def test_loader_batches_cover_every_sample_once_per_epoch():
    ds = _tagged(10)
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=1)
    assert len(loader) == 3 and len(DataLoader(ds, 4, drop_last=True)) == 2
    epochs = []
    for _ in range(2):
        batches = list(loader)
        assert [len(m) for _, m in batches] == [4, 4, 2]
        ids = np.concatenate([x.numpy()[:, 1, 0, 0] for x, _ in batches]).astype(int)
        assert sorted(ids.tolist()) == list(range(10))
        epochs.append(ids)
    assert not np.array_equal(epochs[0], epochs[1]), "each epoch should have a new order"
    plain = np.concatenate([x.numpy()[:, 1, 0, 0] for x, _ in DataLoader(ds, 4, shuffle=False)])
    assert plain.tolist() == list(range(10))


def test_loader_order_is_seeded_and_its_state_restores():
    ds = _tagged(12)
    order = lambda loader: np.concatenate([x.numpy()[:, 1, 0, 0] for x, _ in loader])  # noqa: E731
    a, b = DataLoader(ds, 5, seed=7, augment=True), DataLoader(ds, 5, seed=7, augment=True)
    assert np.array_equal(order(a), order(b))
    assert not np.array_equal(order(DataLoader(ds, 5, seed=8)), order(DataLoader(ds, 5, seed=7)))
    state = a.state_dict()
    first = [(x.numpy(), m) for x, m in a]
    c = DataLoader(ds, 5, seed=123, augment=True)
    c.load_state_dict(state)
    second = [(x.numpy(), m) for x, m in c]
    assert all(
        np.array_equal(x1, x2) and np.array_equal(m1, m2)
        for (x1, m1), (x2, m2) in zip(first, second)
    )


def test_augmentation_flips_image_and_mask_together():
    ds = _tagged(16, size=6)
    loader = DataLoader(ds, batch_size=16, shuffle=False, augment=True, seed=0)
    seen = set()
    for _ in range(3):
        x, m = next(iter(loader))
        x = x.numpy()
        assert np.array_equal(x[:, 0], m)  # the label moved with its pixel
        for i in range(16):
            orig = ds.masks[i]
            variants = {"id": orig, "h": orig[:, ::-1], "v": orig[::-1], "hv": orig[::-1, ::-1]}
            found = [k for k, v in variants.items() if np.array_equal(v, m[i])]
            assert found, "each sample is one of its four flips"
            seen.add(found[0])
    assert seen == {"id", "h", "v", "hv"}
    # flip_pairs by hand
    imgs, masks = flip_pairs(
        ds.images[:2], ds.masks[:2], np.array([True, False]), np.array([True, True])
    )
    assert np.array_equal(masks[0], ds.masks[0][::-1, ::-1]) and np.array_equal(
        masks[1], ds.masks[1][::-1]
    )
    assert np.array_equal(imgs[0, 0], masks[0])


@pytest.mark.parametrize("device", DEVICES)
def test_loader_moves_batches_to_the_device(device):
    ds = _tagged(5)
    x, m = next(iter(DataLoader(ds, batch_size=5, shuffle=False, device=device)))
    assert isinstance(x, Tensor) and x.device == device and x.dtype == np.float32
    assert backend.device_of(m) == device and m.dtype == np.int64 and m.shape == (5, 8, 8)
    assert np.array_equal(backend.asnumpy(m), ds.masks)


def test_loader_rejects_bad_options():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_tagged(3), batch_size=0)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        DataLoader(_tagged(3), device="tpu")


# ----- digits -------------------------------------------------------------------------------------


@needs_sklearn
def test_digits_labels_are_digit_plus_one_on_strokes():
    ds = digits(n=30, size=32, seed=0, max_digits=1, noise=0.0)
    assert ds.images.shape == (30, 1, 32, 32) and ds.num_classes == 11
    assert ds.class_names[0] == "background" and ds.class_names[1:] == tuple("0123456789")
    for img, mask in zip(ds.images, ds.masks):
        labels = np.unique(mask[mask > 0])
        assert len(labels) == 1 and 1 <= labels[0] <= 10
        # stroke pixels are brighter than the background around them
        assert img[0][mask > 0].mean() > img[0][mask == 0].mean() + 0.2
    # two digits per canvas when asked, never overlapping
    two = digits(n=20, size=32, seed=1, max_digits=2, noise=0.0)
    assert max(len(np.unique(m[m > 0])) for m in two.masks) == 2


@needs_sklearn
def test_digits_are_deterministic_and_pools_are_disjoint():
    a, b = digits(n=5, seed=3), digits(n=5, seed=3)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    pools = [load_digit_images(s) for s in ("train", "val", "test")]
    everything, labels = load_digit_images("all")
    assert [len(p[0]) for p in pools] == [1078, 359, 360] and len(everything) == 1797

    def rows(images, lab):  # each digit as one sortable row: label, then its 64 pixels
        r = np.concatenate([lab[:, None], images.reshape(len(images), -1)], axis=1)
        return r[np.lexsort(r.T[::-1])]

    # the three pools are a partition of the 1,797 source digits (same multiset, no sample twice)
    united = rows(np.concatenate([p[0] for p in pools]), np.concatenate([p[1] for p in pools]))
    assert np.array_equal(united, rows(everything, labels))
    va = load_dataset("digits", "val", n=4, size=32)
    assert va.info["source"] == "val"


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import now fails
    with pytest.raises(ImportError, match=r'pip install "minisegnet\[datasets\]"'):
        load_digit_images()
    with pytest.raises(ImportError, match="scikit-learn"):
        digits(n=2)
