"""minisegnet.models: shapes for odd sizes, U-Net's 572 -> 388, size errors, gradients, state dicts,
overfitting one batch, train / eval behaviour, the registry."""

import numpy as np
import pytest

import minisegnet as ms
from minisegnet import Tensor, backend, gradcheck
from minisegnet.models import FCN, MODEL_NAMES, DeconvNet, SegNet, UNet, build_model

import fake_cupy
from overfit import overfit_two_masks, with_params


def zeros(*shape):
    return Tensor(np.zeros(shape, np.float32))


def rand(shape, seed=0, dtype=np.float32):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# ----------------------------------------------------------------------------------------------
# shapes


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_registered_model_maps_to_class_scores_of_input_size(name):
    ms.manual_seed(0)
    m = build_model(name, in_channels=2, num_classes=5, base_width=4)
    hw = {
        "unet": (48, 32),
        "deconvnet": (53, 49),
        "setr-naive": (36, 44),
        "setr-pup": (36, 44),
        "setr-mla": (36, 44),
        "swin": (48, 32),
    }.get(name, (37, 45))  # patch / window sizes
    y = m(rand((2, 2, *hw)))
    assert y.shape == (2, 5, *hw)
    assert np.isfinite(y.numpy()).all()


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
@pytest.mark.parametrize("hw", [(33, 64), (17, 5), (61, 47)])
def test_fcn_any_input_size(variant, hw):
    m = FCN(3, 4, variant=variant, base_width=2, convs_per_stage=(1, 1, 1, 1, 1))
    assert m(zeros(2, 3, *hw)).shape == (2, 4, *hw)


def test_fcn_skip_layers_and_bilinear_upsamplers():
    m8, m32 = FCN(variant="8s", base_width=2), FCN(variant="32s", base_width=2)
    assert m8.upscore.kernel_size == (16, 16) and m8.upscore.stride == (8, 8)
    assert m32.upscore.kernel_size == (64, 64) and m32.upscore.stride == (32, 32)
    assert not hasattr(m32, "score_pool4") and hasattr(m8, "score_pool3")
    # skip scores start at zero (the paper's init): FCN-8s starts out predicting coarse scores
    np.testing.assert_array_equal(m8.score_pool4.weight.numpy(), 0)
    assert m8.upscore2.bilinear_init and m8.upscore2.weight.numpy()[1, 1, 1, 1] == 0.5625
    with pytest.raises(ValueError, match=r"variant must be one of \('32s', '16s', '8s'\)"):
        FCN(variant="4s")


@pytest.mark.parametrize("hw, depth", [((37, 45), 3), ((17, 19), 4), ((16, 16), 4)])
def test_segnet_odd_sizes_unpool_to_encoder_sizes(hw, depth):
    m = SegNet(1, 3, base_width=2, depth=depth)
    assert m(rand((1, 1, *hw))).shape == (1, 3, *hw)


def test_segnet_too_small_input_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"SegNet\(depth=4\): input 15x40 is too small.*at "
        r"least 16x16",
    ):
        SegNet(1, 2, base_width=2)(zeros(1, 1, 15, 40))


def test_deconvnet_dense_centre_and_size_errors():
    m = DeconvNet(1, 3, base_width=2, depth=3, center_kernel=3)
    assert m(rand((2, 1, 29, 24))).shape == (2, 3, 29, 24)  # bottleneck 3x3 -> fc6 1x1 -> 3x3
    assert m.fc6[0].conv.kernel_size == (3, 3) and m.fc6[0].conv.padding == (0, 0)
    assert type(m.deconv_fc6.conv).__name__ == "ConvTranspose2d"
    assert all(type(b[0].conv).__name__ == "ConvTranspose2d" for b in m.dec)
    with pytest.raises(
        ValueError,
        match=r"input 23x30 is too small; 3 2x2 poolings followed by "
        r"fc6's 3x3 kernel \(center_kernel\) need at least 24x24",
    ):
        m(zeros(1, 1, 23, 30))


def test_unet_valid_paper_widths_572_gives_388():
    # the paper's network: in 1, classes 2, depth 4, base 64, unpadded convs
    paper = UNet(1, 2, base_width=64, depth=4, padding="valid", batch_norm=False)
    assert paper.output_size(572, 572) == (388, 388)
    # 9 c_in c_out + c_out per 3x3 conv, 4 c_in c_out + c_out per up-conv, summed by hand: 31.03 M
    assert paper.num_parameters() == 31_030_658
    # shapes do not depend on the width: run the real layers with base_width=1
    thin = UNet(1, 2, base_width=1, depth=4, padding="valid", batch_norm=False)
    with ms.no_grad():
        assert thin(zeros(1, 1, 572, 572)).shape == (1, 2, 388, 388)


def test_unet_valid_and_same_sizes_for_other_depths():
    m = UNet(3, 4, base_width=2, depth=2, padding="valid")
    # height: 44 -conv-> 40 -pool-> 20 -> 16 -> 8, bottleneck 4, up 8 -> 4, up 8 -> 4
    # width:  60 -> 56 -> 28 -> 24 -> 12, bottleneck 8, up 16 -> 12, up 24 -> 20
    assert m.output_size(44, 60) == (4, 20)
    assert m(zeros(1, 3, 44, 60)).shape == (1, 4, *m.output_size(44, 60))
    same = UNet(3, 4, base_width=2, depth=3)
    assert same.output_size(40, 24) == (40, 24)
    assert same(zeros(2, 3, 40, 24)).shape == (2, 4, 40, 24)


def test_unet_bad_sizes_name_the_nearest_sizes_that_work():
    with pytest.raises(
        ValueError,
        match=r"input width 50 does not work; it must be divisible by "
        r"2\*\*depth = 16. Nearest sizes that work: 48 "
        r"\(output 48\) or 64 \(output 64\)",
    ):
        UNet(3, 2, base_width=2)(zeros(1, 3, 64, 50))
    with pytest.raises(
        ValueError,
        match=r"input height 570 does not work.*Nearest sizes that "
        r"work: 556 \(output 372\) or 572 \(output 388\)",
    ):
        UNet(1, 2, base_width=1, padding="valid").output_size(570, 572)
    with pytest.raises(ValueError, match="padding must be 'same'"):
        UNet(padding="full")


# ----------------------------------------------------------------------------------------------
# gradients, state dicts, train / eval


def test_tiny_unet_gradcheck_random_directions():
    ms.manual_seed(0)
    m = UNet(1, 2, base_width=2, depth=1).double()
    x = rand((2, 1, 8, 8), 1, np.float64)
    x.requires_grad = True
    # the gradient w.r.t. the input passes through every layer (and BN's batch statistics)
    assert gradcheck(lambda x: m(x), x, atol=1e-6, rtol=1e-4, n_directions=6)
    # and w.r.t. every weight (4 random directions each), the weights swapped in for the call
    fn, params = with_params(m)
    assert len(params) == 22

    x.requires_grad = False
    assert gradcheck(fn, x, *params, atol=1e-6, rtol=1e-4, max_elements=0, n_directions=4)


@pytest.mark.parametrize("name", ["unet", "fcn8s", "segnet", "deconvnet"])
def test_state_dict_round_trip_into_a_fresh_model(name):
    ms.manual_seed(1)
    a = build_model(name, 3, 4, base_width=2)
    x = rand((2, 3, 64, 64), 2)
    a(x)  # update the BN running statistics once
    a.eval()
    ms.manual_seed(2)
    b = build_model(name, 3, 4, base_width=2).eval()
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b(x).numpy(), a(x).numpy())
    with pytest.raises(ValueError, match="mis-shaped keys"):
        build_model(name, 3, 5, base_width=2).load_state_dict(a.state_dict())


def test_train_and_eval_change_batchnorm_and_dropout():
    ms.manual_seed(3)
    m = UNet(1, 2, base_width=2, depth=2, dropout=0.5)
    x = rand((2, 1, 16, 16), 4)
    t1, t2 = m(x).numpy(), m(x).numpy()
    assert not np.allclose(t1, t2)  # dropout draws a new mask each call
    m.eval()
    e1, e2 = m(x).numpy(), m(x).numpy()
    np.testing.assert_array_equal(e1, e2)  # eval: no dropout, running BN statistics
    nodrop = UNet(1, 2, base_width=2, depth=2)
    nodrop.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(nodrop.eval()(x).numpy(), e1)
    assert not np.allclose(nodrop.train()(x).numpy(), e1)  # batch statistics differ from running


def test_overfit_one_batch():
    """A small U-Net memorises one batch of two 16x16 images: the mean cross entropy falls from
    about ln 2 to below 0.05 within 150 Adam steps (about 60 steps in practice, well under 1 s)."""
    ms.manual_seed(0)
    m = UNet(1, 2, base_width=4, depth=2)
    losses, accuracy = overfit_two_masks(m, steps=150, stop_below=0.05)
    assert losses[0] > 0.3 and losses[-1] < 0.05, losses[::10]
    assert accuracy > 0.99


def test_build_model_registry_and_errors():
    assert MODEL_NAMES == (
        "unet",
        "fcn8s",
        "fcn16s",
        "fcn32s",
        "segnet",
        "deconvnet",
        "pspnet",
        "deeplabv3",
        "deeplabv3plus",
        "unet-mobilenet",
        "setr-naive",
        "setr-pup",
        "setr-mla",
        "swin",
        "deeplabv1",
        "deeplabv2",
        "fcdensenet",
    )
    assert build_model("FCN-16s", base_width=2).variant == "16s"
    assert type(build_model("UNet_MobileNet", base_width=4)).__name__ == "MobileNetUNet"
    assert isinstance(build_model("unet", 1, 2, base_width=2, depth=2), UNet)
    with pytest.raises(
        ValueError,
        match="unknown model 'resnet'; valid names are unet, fcn8s, "
        "fcn16s, fcn32s, segnet, deconvnet, pspnet",
    ):
        build_model("resnet")
    with pytest.raises(TypeError, match="build_model\\('segnet'\\)"):
        build_model("segnet", variant="8s")
    with pytest.raises(ValueError, match="base_width must be a positive int"):
        UNet(base_width=0)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_train_on_the_gpu_array_module(monkeypatch, name):
    """With a NumPy-backed stand-in for CuPy: after .to("gpu") every parameter, buffer, dropout
    mask and optimizer state stays on the "gpu" (and in float32) through training steps, and one
    training step gives the CPU's loss, gradients and weights.

    The numbers are compared over one step in float64: on the "gpu" conv.py takes its GPU branch
    (another GEMM shape) and the fake's matmul sums in another order. In float32 that is ~1e-7
    relative per sum, and batch norm at base width 2 amplifies it to 0.06-0.16 in the weights after
    two SGD steps; in float64 the same amplification stays near 1e-12 of the largest gradient
    (measured: 8e-13, unet-mobilenet), so a tight tolerance holds on every machine and still
    catches a real difference (scaling the GPU branch's GEMM by 1 + 1e-7 fails it).
    """
    fake_cupy.install(monkeypatch)
    kw = {"dropout": 0.3} if name in ("unet", "deconvnet") else {}
    x = rand((2, 2, 64, 48), 5)

    # device discipline, in float32 as in training: two SGD steps (momentum, Nesterov, weight
    # decay), then an Adam step
    ms.manual_seed(0)
    m = build_model(name, 2, 3, base_width=2, **kw).to("gpu")
    sgd = ms.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    for _ in range(2):
        loss = (m(x.to("gpu")) ** 2).mean()
        assert loss.device == "gpu" and loss.dtype == np.float32
        sgd.zero_grad()
        loss.backward()
        sgd.step()
    adam = ms.optim.Adam(m.parameters())
    adam.step()
    assert all(p.device == "gpu" and p.dtype == np.float32 for p in m.parameters())
    assert all(backend.device_of(b) == "gpu" for b in m.buffers())
    assert all(
        backend.device_of(v) == "gpu"
        for opt in (sgd, adam)
        for st in opt.state.values()
        for v in st.values()
        if hasattr(v, "shape")
    )
    assert all(np.isfinite(v).all() for v in m.state_dict().values())
    assert ms.summary(m, (2, 64, 48)).output_shape == (1, 3, 64, 48)

    # the numbers: one step in float64 on each device, from the same initial weights and masks
    results = {}
    for device in ("cpu", "gpu"):
        ms.manual_seed(0)
        m = build_model(name, 2, 3, base_width=2, **kw).to(device, dtype=np.float64)
        sgd = ms.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
        loss = (m(x.to(device, dtype=np.float64)) ** 2).mean()
        sgd.zero_grad()
        loss.backward()
        grads = {k: p.grad.numpy() for k, p in m.named_parameters()}
        sgd.step()
        results[device] = loss.item(), grads, m.state_dict()
    (cpu_loss, cpu_grads, cpu_state), (gpu_loss, gpu_grads, gpu_state) = (
        results["cpu"],
        results["gpu"],
    )
    np.testing.assert_allclose(gpu_loss, cpu_loss, rtol=1e-10)
    assert gpu_grads.keys() == cpu_grads.keys() and gpu_state.keys() == cpu_state.keys()
    # A gradient's rounding error scales with the terms summed, not with the (possibly much
    # smaller, cancelled) sum: batch-norm weight gradients are 1e-5 of the largest gradient here.
    # So the scale is the largest gradient of the model; measured differences are <= 1e-12 of it.
    scale = max(float(np.abs(g).max()) for g in cpu_grads.values())
    for k, g in cpu_grads.items():
        np.testing.assert_allclose(gpu_grads[k], g, rtol=1e-7, atol=1e-9 * scale, err_msg=k)
    for k, v in cpu_state.items():  # weights moved by lr * (gradient + ...): measured <= 4e-13
        np.testing.assert_allclose(gpu_state[k], v, rtol=1e-9, atol=1e-11, err_msg=k)
