"""SETR (naive / PUP / MLA) and Swin (issue 14): shapes on the sizes the patch and window sizes
allow, clear errors otherwise, tiny-model gradchecks, what the windows and the shift mask let
each token see, patch merging / expanding, overfitting one batch, the registry."""

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.functional as F
from minisegnet import Tensor, gradcheck
from minisegnet.models import SETR, Swin, build_model
from minisegnet.models.setr import ConvStem
from minisegnet.models.swin import PatchExpanding, PatchMerging, SwinBlock, stage_windows

from overfit import overfit_two_masks, with_params


def rand(shape, seed=0, dtype=np.float32):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# ----------------------------------------------------------------------------------------------
# shapes and sizes


@pytest.mark.parametrize("name", ["setr-naive", "setr-pup", "setr-mla"])
@pytest.mark.parametrize("hw", [(32, 32), (64, 48), (12, 20), (4, 8)])
def test_setr_maps_multiples_of_the_patch_to_class_scores(name, hw):
    ms.manual_seed(0)
    m = build_model(name, 2, 5, base_width=4)
    y = m(rand((2, 2, *hw)))
    assert y.shape == (2, 5, *hw) and np.isfinite(y.numpy()).all()


@pytest.mark.parametrize("decoder", ["fpn", "unet"])
@pytest.mark.parametrize(
    "hw, depth",
    [
        ((32, 32), 2),
        ((64, 48), 2),
        ((16, 16), 2),
        ((8, 24), 2),
        ((32, 32), 3),
        ((64, 64), 3),
        ((64, 32), 4),
    ],
)
def test_swin_maps_the_sizes_it_allows_to_class_scores(hw, depth, decoder):
    ms.manual_seed(0)
    m = Swin(2, 5, base_width=4, depth=depth, decoder=decoder)
    y = m(rand((2, 2, *hw)))
    assert y.shape == (2, 5, *hw) and np.isfinite(y.numpy()).all()


def test_size_errors_name_the_sizes_that_work():
    with pytest.raises(
        ValueError,
        match=r"SETR\(patch_size=4\): input width 45 does not work; it "
        r"must be a multiple of the patch size 4\. Nearest sizes "
        r"that work: 44 or 48",
    ):
        SETR(3, 2)(rand((1, 3, 36, 45)))
    with pytest.raises(
        ValueError,
        match=r"Swin\(patch_size=2, window_size=4, depth=3\): input "
        r"48x48 does not work.*Nearest square sizes that work: "
        r"32 or 64",
    ):
        Swin(3, 2, depth=3)(rand((1, 3, 48, 48)))  # stage maps 24, 12, 6: 6 is no multiple of 4
    with pytest.raises(ValueError, match=r"input 37x45 does not work.*32 or 48"):
        Swin(3, 2)(rand((1, 3, 37, 45)))
    for m in (SETR(2, 3), Swin(2, 3)):
        with pytest.raises(
            ValueError,
            match=r"expected an \(N, 2, H, W\) input, got shape "
            r"\(1, 3, 16, 16\)",
        ):
            m(rand((1, 3, 16, 16)))
    with pytest.raises(ValueError, match="decoder must be one of naive, pup, mla"):
        SETR(decoder="fpn")
    with pytest.raises(ValueError, match="SETR: stem must be one of patch, conv, got 'resnet'"):
        SETR(stem="resnet")
    with pytest.raises(ValueError, match="decoder must be 'fpn' or 'unet', got 'pup'"):
        Swin(decoder="pup")
    assert stage_windows(8, 8, 4) == (4, 2) and stage_windows(4, 8, 4) == (4, 0)
    assert stage_windows(2, 4, 4) == (2, 0) and stage_windows(6, 8, 4) is None


def test_setr_decoders_structure():
    pup = SETR(3, 4, "pup", patch_size=8)
    assert len(pup.stages) == 3  # x2 three times: 8
    mla = SETR(3, 4, "mla", depth=8)
    assert mla.taps == [1, 3, 5, 7]  # layers 2, 4, 6, 8 (the paper: 6, 12, 18, 24 of 24)
    assert SETR(3, 4, "mla", depth=3).taps == [0, 1, 2]
    assert pup.embed_dim == 64 and pup.encoder.pos_embed.grid_size == (4, 4)


def test_setr_other_input_size_resizes_the_position_embedding():
    ms.manual_seed(0)
    m = SETR(1, 2, "naive", base_width=2, num_heads=2, depth=1, patch_size=2, img_size=8).eval()
    x = rand((1, 1, 12, 8))
    y = m(x)  # a 6 x 4 grid from the 4 x 4 table
    assert y.shape == (1, 2, 12, 8)
    table = m.encoder.pos_embed.weight
    np.testing.assert_allclose(
        m.encoder.pos_embed((6, 4)).numpy(),
        F.interpolate(table, size=(6, 4), mode="bilinear").numpy(),
    )


# ----------------------------------------------------------------------------------------------
# what the windows let each token see


def test_window_attention_stays_inside_windows_and_the_mask_blocks_wrapped_pieces():
    """W-MSA: changing one token changes only the tokens of its window. SW-MSA (shift 2 on an 8x8
    map with windows of 4): token (0, 0) is rolled into the bottom-right window together with
    tokens from the far bottom/right of the image; the mask keeps them from seeing it, while its
    true neighbour (1, 1) does."""
    ms.manual_seed(0)
    x = rand((1, 8, 8, 4), 1, np.float64)
    bumped = x.numpy().copy()
    bumped[0, 0, 0, 0] += 1.0  # one channel (LayerNorm ignores a shift of all of them)
    for shifted in (False, True):
        block = SwinBlock(4, 2, 4, shifted).double()
        changed = np.abs(block(Tensor(bumped)).numpy() - block(x).numpy()).max(-1)[0] > 1e-12
        if not shifted:
            expected = np.zeros((8, 8), bool)
            expected[:4, :4] = True
            np.testing.assert_array_equal(changed, expected)
        else:
            assert changed[0, 0] and changed[1, 1]
            assert not changed[7, 7] and not changed[0, 7] and not changed[7, 0]
            assert not changed[5, 5]  # shares the rolled window, but in another region
            assert not changed[2, 2]  # rolled window starting at (2, 2) does not contain (0, 0)


def test_patch_merging_and_expanding_shapes_and_order():
    ms.manual_seed(0)
    pm = PatchMerging(3).double()
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 3))
    y = pm(Tensor(x)).numpy()
    assert y.shape == (2, 2, 3, 6)
    # Swin's concatenation x(0,0), x(1,0), x(0,1), x(1,1) of each 2 x 2 group, LayerNorm, Linear
    cat = np.concatenate(
        [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1
    )
    normed = (cat - cat.mean(-1, keepdims=True)) / np.sqrt(cat.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, normed @ pm.reduction.weight.numpy().T, rtol=1e-10, atol=1e-12)
    pe = PatchExpanding(6, 3, 2).double()
    z = pe(Tensor(y)).numpy()
    assert z.shape == (2, 4, 6, 3)
    e = y @ pe.expand.weight.numpy().T  # (2, 2, 3, 12): token (i, j)'s 2 x 2 block of 3 channels
    block = e[1, 1, 2].reshape(2, 2, 3)
    got = z[1, 2:4, 4:6]
    norm = (block - block.mean(-1, keepdims=True)) / np.sqrt(block.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(got, norm, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize(
    "patch, hw, stem_hw, left",
    [
        (4, (32, 24), (8, 6), 1),
        (2, (8, 12), (4, 6), 1),
        (6, (12, 18), (6, 9), 3),
        (1, (5, 3), (5, 3), 1),
    ],
)
def test_conv_stem_shapes(patch, hw, stem_hw, left):
    """The hybrid stem halves the map once per factor 2 of p; the patch embedding takes the rest."""
    ms.manual_seed(0)
    m = SETR(2, 5, "naive", base_width=4, num_heads=2, depth=1, patch_size=patch, stem="conv")
    stem = m.encoder.stem
    assert isinstance(stem, ConvStem) and stem.patch_left == left
    assert m.encoder.patch_embed.patch_size == left
    x = rand((2, 2, *hw))
    assert stem(x).shape == (2, stem.out_channels, *stem_hw)
    y = m(x)
    assert y.shape == (2, 5, *hw) and np.isfinite(y.numpy()).all()
    assert m.encoder(x)[-1].shape == (2, 8, hw[0] // patch, hw[1] // patch)


def test_conv_stem_channels_and_what_a_token_sees():
    m = SETR(3, 4, "naive", base_width=8, num_heads=4, patch_size=4, stem="conv")  # E = 32
    stem = m.encoder.stem
    convs = [mod for mod in stem.modules() if isinstance(mod, ms.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride) for c in convs] == [
        (3, 16, (1, 1)),
        (16, 32, (2, 2)),
        (32, 32, (2, 2)),
        (32, 32, (1, 1)),
    ]
    assert "stem='conv'" in repr(m) and "stem=" not in repr(SETR())
    # token (0, 0) covers pixels 0..3. Without the stem it sees only them; with it, a 17 x 17
    # window (3x3, two 3x3 of stride 2, 3x3 at stride 4) centred on pixel 0: pixels 0..8
    x = rand((1, 3, 32, 32), 3)
    cases = (("patch", 3, True), ("patch", 4, False), ("conv", 8, True), ("conv", 9, False))
    for kind, far, changes in cases:
        ms.manual_seed(0)
        enc = SETR(3, 4, "naive", base_width=8, num_heads=4, stem=kind).encoder.eval()
        before = enc.patch_embed(enc.stem(x)).numpy()[0, :, 0, 0]
        x2 = x.numpy().copy()
        x2[0, :, far, far] += 10.0
        after = enc.patch_embed(enc.stem(Tensor(x2))).numpy()[0, :, 0, 0]
        assert (np.abs(after - before).max() > 1e-4) == changes, (kind, far)


# ----------------------------------------------------------------------------------------------
# gradients, learning, state dicts, the registry


GRAD_MODELS = {
    "setr-naive": lambda: SETR(
        1, 2, "naive", base_width=2, num_heads=2, depth=1, patch_size=2, img_size=4
    ),
    "setr-naive-conv-stem": lambda: SETR(
        1, 2, "naive", base_width=2, num_heads=2, depth=1, patch_size=2, img_size=4, stem="conv"
    ),
    "setr-pup": lambda: SETR(
        1, 2, "pup", base_width=2, num_heads=2, depth=1, patch_size=4, img_size=4
    ),
    "setr-mla": lambda: SETR(
        1, 2, "mla", base_width=2, num_heads=2, depth=2, patch_size=2, img_size=8
    ),
    "swin": lambda: Swin(1, 2, base_width=2, num_heads=2, depth=2, patch_size=2, window_size=2),
    "swin-unet": lambda: Swin(
        1, 2, base_width=2, num_heads=2, depth=2, patch_size=2, window_size=2, decoder="unet"
    ),
}


@pytest.mark.parametrize("name", list(GRAD_MODELS))
def test_tiny_model_gradcheck(name):
    ms.manual_seed(0)
    m = GRAD_MODELS[name]().double()
    x = rand((2, 1, 8, 8), 1, np.float64)  # Swin: 4x4 tokens, windows of 2 shifted by 1, then 2x2
    x.requires_grad = True
    assert gradcheck(lambda x: m(x), x, atol=1e-6, rtol=1e-4, n_directions=4)
    fn, params = with_params(m)
    x.requires_grad = False
    assert gradcheck(fn, x, *params, atol=1e-6, rtol=1e-4, max_elements=0, n_directions=2)


@pytest.mark.parametrize("name", ["setr-pup", "swin", "swin-unet"])
def test_overfit_one_batch(name):
    ms.manual_seed(0)
    m = (
        SETR(1, 2, "pup", base_width=8, num_heads=2, depth=2, patch_size=2, img_size=16)
        if name == "setr-pup"
        else Swin(1, 2, base_width=8, num_heads=2, depth=2, decoder=name[5:] or "fpn")
    )
    losses, accuracy = overfit_two_masks(m, steps=200, stop_below=0.02)
    assert losses[0] > 0.3 and losses[-1] < 0.02, losses[::10]
    assert accuracy > 0.99


@pytest.mark.parametrize("name", ["setr-mla", "swin"])
def test_state_dict_round_trip(name):
    ms.manual_seed(1)
    a = build_model(name, 3, 4, base_width=4)
    x = rand((2, 3, 32, 32), 2)
    a(x)
    a.eval()
    ms.manual_seed(2)
    b = build_model(name, 3, 4, base_width=4).eval()
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b(x).numpy(), a(x).numpy())
    if name == "swin":
        assert "stages.0.0.attn.bias.table" in a.state_dict()
        assert a.state_dict()["stages.0.0.attn.bias.index"].dtype.kind == "i"


@pytest.mark.parametrize(
    "name, decoder",
    [("setr-naive", "naive"), ("setr-pup", "pup"), ("SETR_MLA", "mla"), ("swin", None)],
)
def test_registry_builds_the_transformers(name, decoder):
    m = build_model(name, 1, 3, base_width=2, depth=2)
    assert type(m) is (Swin if decoder is None else SETR)
    if decoder:
        assert m.decoder == decoder and m.depth == 2
    assert m(rand((2, 1, 32, 32))).shape == (2, 3, 32, 32)
