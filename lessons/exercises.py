""""Try it yourself": the exercises at the end of every lesson, and the checker a student calls.

    >>> from exercises import check_answer
    >>> check_answer("03.2", 10)        # prints "right" or "not quite" and a hint; returns a bool

Each exercise's expected answer is **computed here** (with minisegnet where the lesson's engine
can compute it, otherwise with the formula the lesson taught) and never printed: the checker only
says right or wrong and gives a hint. Worked solutions are kept apart, in
``lessons/solutions/answers.py``: open it after you have tried.

Answers may be numbers, nested lists, NumPy arrays or minisegnet Tensors; arrays must have the
expected shape, and numbers agree to the exercise's tolerance (exact for integers). Text answers
(a class name) are compared without case or surrounding spaces.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import minisegnet as ms
import minisegnet.functional as F
from minisegnet.functional import sizes
from minisegnet.models.densenet import DenseBlock
from minisegnet.models.resnet import BasicBlock
from minisegnet.summary import summary


@dataclass(frozen=True)
class Exercise:
    """One exercise: its question, a hint for a wrong answer and how to compute the answer."""

    id: str
    question: str
    hint: str
    expected: Callable[[], Any]
    atol: float = 0.0


def _t(a: Any) -> ms.Tensor:
    return ms.Tensor(np.asarray(a, dtype=np.float64))


def _tconv(x: Any, k: Any, stride: int, crop: int = 0) -> np.ndarray:
    """A single-channel transposed convolution with minisegnet, as a 2-D NumPy array."""
    x, k = np.asarray(x, dtype=np.float64), np.asarray(k, dtype=np.float64)
    return F.conv_transpose2d(_t(x[None, None]), _t(k[None, None]), stride=stride,
                              padding=crop).numpy()[0, 0]


def _pool(x: Any) -> tuple[np.ndarray, np.ndarray]:
    y, idx = F.max_pool2d(_t(np.asarray(x)[None, None]), 2, 2, return_indices=True)
    return y.numpy()[0, 0], idx.numpy()[0, 0]


def _unpool(values: Any, pooled_from: Any) -> np.ndarray:
    _, idx = F.max_pool2d(_t(np.asarray(pooled_from)[None, None]), 2, 2, return_indices=True)
    return F.max_unpool2d(_t(np.asarray(values)[None, None]), idx, 2, 2).numpy()[0, 0]


def _receptive_field(layers: list[tuple[int, int, int]]) -> int:
    """r += d(k-1) * jump, jump *= s for layers (k, s, d): the recurrence of lesson 05."""
    r, jump = 1, 1
    for k, s, d in layers:
        r += d * (k - 1) * jump
        jump *= s
    return r


def _iou(a: Any, b: Any) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return ms.metrics.iou(a.astype(np.float64), b.astype(np.int64))


POOL_ME = [[4, 1, 0, 2], [3, 2, 7, 1], [0, 9, 1, 1], [2, 2, 3, 5]]
A2, B2 = [[1, 1], [0, 1]], [[1, 0], [1, 1]]
DECK3_FILTER = [[2, 1, 4], [-1, -2, -3], [-2, 1, 4]]

_LIST = [
    # --- 00: one-hot, softmax, cross entropy -----------------------------------------------------
    Exercise("00.1", "A pixel's target is 'man' (one-hot (0, 0, 1, 0) in the order car, horse, man, "
             "cat) and the network predicts (0.1, 0.2, 0.5, 0.2). Its cross entropy (natural log)?",
             "only the true class's probability counts: -ln q_true.",
             lambda: ms.losses.cross_entropy(_t(np.log([0.1, 0.2, 0.5, 0.2])[None, :, None, None]),
                                             np.array([[[2]]])).item(), atol=1e-3),
    Exercise("00.2", "Activations (car, horse, man, cat) = (1.0, 3.0, 2.0, 0.5) at a pixel. Which "
             "class does the label map give it (answer the name)?",
             "softmax keeps the order of the activations: the largest activation wins.",
             lambda: ("car", "horse", "man", "cat")[int(F.softmax(_t([[1.0, 3.0, 2.0, 0.5]]), axis=1)
                                                           .numpy().argmax())]),
    Exercise("00.3", "Same pixel: the softmax probability of 'horse' (4 decimals)?",
             "exp(3) / (exp(1) + exp(3) + exp(2) + exp(0.5)).",
             lambda: F.softmax(_t([[1.0, 3.0, 2.0, 0.5]]), axis=1).numpy()[0, 1], atol=1e-3),
    # --- 01: neurons and activations --------------------------------------------------------------
    Exercise("01.1", "A ReLU neuron with w = (1, -2, 0.5), b = -1 gets x = (2, 1, 4). Its output?",
             "compute w.x + b first (2 - 2 + 2 - 1), then apply max(0, .).",
             lambda: F.relu(_t([1, -2, 0.5]) @ _t([2, 1, 4]) - 1).item()),
    Exercise("01.2", "The derivative of the logistic sigmoid at z = 0?",
             "sigma'(z) = sigma(z) (1 - sigma(z)), and sigma(0) = 1/2.",
             lambda: _grad_at(F.sigmoid, 0.0), atol=1e-6),
    Exercise("01.3", "softplus(0) = ln(1 + e^0), to 4 decimals?",
             "ln 2.", lambda: F.softplus(_t(0.0)).item(), atol=1e-3),
    # --- 02: convolution as a matrix ---------------------------------------------------------------
    Exercise("02.1", "A 3x3 convolution (stride 1, no padding) of a 7x7 input: the output's "
             "(height, width)?",
             "a 3-wide window has n - 3 + 1 positions along a side of n.",
             lambda: F.conv2d(_t(np.zeros((1, 1, 7, 7))), _t(np.zeros((1, 1, 3, 3)))).shape[2:]),
    Exercise("02.2", "The matrix C with C @ x.ravel() = that convolution (7x7 input, 3x3 kernel): "
             "its shape (rows, columns)?",
             "one row per output pixel, one column per input pixel.",
             lambda: (int(np.prod(F.conv2d(_t(np.zeros((1, 1, 7, 7))),
                                           _t(np.zeros((1, 1, 3, 3)))).shape)), 49)),
    Exercise("02.3", "How many parameters has a conv layer from 3 to 8 channels with 3x3 kernels "
             "and a bias?",
             "each of the 8 filters has 3 x 3 x 3 weights, plus one bias each.",
             lambda: ms.nn.Conv2d(3, 8, 3).num_parameters()),
    # --- 03: transposed convolution --------------------------------------------------------------
    Exercise("03.1", "Deck 003's 'Please solve it': filter [[2,1,4],[-1,-2,-3],[-2,1,4]], stride 2, "
             "crop 0, input [[2,3],[-2,1]] (the reading its partial solution uses). The 5x5 output?",
             "splat 2*filter at (0,0), 3*filter at (0,2), -2*filter at (2,0), 1*filter at (2,2), "
             "and add where they overlap (row 2 and column 2).",
             lambda: _tconv([[2, 3], [-2, 1]], DECK3_FILTER, stride=2)),
    Exercise("03.2", "A transposed convolution with kernel 4, stride 2, crop 1 on an input of "
             "length 5: the output length?",
             "(n - 1) * stride + kernel - 2 * crop.",
             lambda: sizes.conv_transpose_output_size(5, 4, stride=2, padding=1)),
    Exercise("03.3", "Kernel [[1,2],[3,4]], stride 2, input [[0,0],[0,1]]: the 4x4 output?",
             "the single 1 stamps the kernel into the output block that its position selects.",
             lambda: _tconv([[0, 0], [0, 1]], [[1, 2], [3, 4]], stride=2)),
    # --- 04: max-pooling and unpooling ------------------------------------------------------------
    Exercise("04.1", f"2x2 max-pooling (stride 2) of {POOL_ME}: the 2x2 result?",
             "the maximum of each non-overlapping 2x2 block.",
             lambda: _pool(POOL_ME)[0]),
    Exercise("04.2", "The pooling indices of that pool, as flat positions row * 4 + col (a 2x2 "
             "array)?",
             "find where each maximum sits in the 4x4 input, then row * 4 + col.",
             lambda: _pool(POOL_ME)[1]),
    Exercise("04.3", "Max-unpool [[10,20],[30,40]] with those indices: the 4x4 result?",
             "each value goes back to where its block's maximum was; everything else is 0.",
             lambda: _unpool([[10, 20], [30, 40]], POOL_ME)),
    # --- 05: dilation and receptive fields --------------------------------------------------------
    Exercise("05.1", "The side of the field a 3x3 kernel with dilation 3 covers?",
             "d (k - 1) + 1.", lambda: _receptive_field([(3, 1, 3)])),
    Exercise("05.2", "Receptive field of: 3x3 conv, 2x2 max-pool (stride 2), 3x3 conv?",
             "r += d (k - 1) * jump per layer, jump *= stride: 1 + 2, then + 1, then + 2 * 2.",
             lambda: ms.summary(ms.nn.Sequential(ms.nn.Conv2d(1, 1, 3), ms.nn.MaxPool2d(2),
                                                 ms.nn.Conv2d(1, 1, 3)), (1, 1, 32, 32))
             .rows[-1].receptive_field[0]),
    Exercise("05.3", "How many stacked 3x3 convolutions (stride 1, no dilation) see 21x21?",
             "N layers see 1 + 2N.", lambda: (21 - 1) // 2),
    # --- 06: 1x1 convolution --------------------------------------------------------------------
    Exercise("06.1", "Multiplies of a 1x1 convolution from 256 to 64 channels on a 14x14 map?",
             "one multiply per output value per input channel: 14 * 14 * 64 * 256.",
             lambda: ms.summary(ms.nn.Conv2d(256, 64, 1, bias=False), (1, 256, 14, 14))
             .total_mult_adds),
    Exercise("06.2", "Its number of weights (no bias)?",
             "a 1x1 convolution is a 64 x 256 matrix.",
             lambda: ms.nn.Conv2d(256, 64, 1, bias=False).num_parameters()),
    # --- 07: losses and metrics ------------------------------------------------------------------
    Exercise("07.1", f"IoU of the binary masks A = {A2} and B = {B2}?",
             "|A and B| / |A or B|: count the pixels set in both, then in either.",
             lambda: _iou(A2, B2), atol=1e-3),
    Exercise("07.2", "Their Dice coefficient 2|A and B| / (|A| + |B|)?",
             "2 * 2 / (3 + 3).",
             lambda: ms.metrics.dice_coefficient(np.asarray(A2, float), np.asarray(B2)),
             atol=1e-3),
    Exercise("07.3", "Binary cross entropy of one pixel with p = 1 and predicted p_hat = 0.8?",
             "-(p ln p_hat + (1 - p) ln(1 - p_hat)) with p = 1.",
             lambda: ms.losses.binary_cross_entropy(_t([0.8]), np.array([1.0])).item(), atol=1e-3),
    # --- 08: FCN --------------------------------------------------------------------------------
    Exercise("08.1", "FCN's backbone pools 5 times. On a 320x320 input, the side of score_fr?",
             "five halvings: 320 / 32.",
             lambda: [r.output_shape[2] for r in ms.summary(
                 ms.models.FCN(3, 2, variant="32s", base_width=2), (1, 3, 320, 320)).rows
                 if r.name == "score_fr"][0]),
    Exercise("08.2", "FCN-8s's final upsampler: its transposed-convolution kernel size?",
             "the FCN upsamplers use kernel 2f, stride f, crop f/2 for a factor f.",
             lambda: ms.models.FCN(3, 2, variant="8s", base_width=2).upscore.weight.shape[2]),
    # --- 09: SegNet, DeconvNet --------------------------------------------------------------------
    Exercise("09.1", "After 2x2 max-unpooling, at most what fraction of the map is non-zero?",
             "each 2x2 block receives one value.", lambda: 1 / 4, atol=1e-3),
    Exercise("09.2", "A 2x2 max-pool (stride 2) of a 7x7 map: the output side?",
             "the last row and column have no complete window: floor(7 / 2).",
             lambda: sizes.pool_output_size(7, 2)),
    # --- 10: U-Net ------------------------------------------------------------------------------
    Exercise("10.1", "A valid-convolution U-Net of depth 4 on a 284x284 input: the output side?",
             "down: -4 then /2, four times (284 -> 140 -> 68 -> 32 -> 14, bottom 10); up: x2 then "
             "-4, four times.",
             lambda: ms.models.UNet(3, 2, base_width=1, padding="valid").output_size(284, 284)[0]),
    Exercise("10.2", "An encoder map of 64x64 is joined to a decoder map of 56x56: how many "
             "pixels does the center crop remove at each border?",
             "(64 - 56) / 2.", lambda: (64 - 56) // 2),
    # --- 11: training ---------------------------------------------------------------------------
    Exercise("11.1", "SGD with lr 0.1 on a weight w = 2.0 whose gradient is 0.5: w after one step?",
             "w - lr * grad.", lambda: _sgd_step(2.0, 0.5, 0.1), atol=1e-6),
    Exercise("11.2", "Adam (lr 0.01, default betas) on a weight w = 2.0 with gradient 100: how far "
             "does the first step move w (a positive number, 4 decimals)?",
             "after bias correction m_hat = g and v_hat = g^2: the step is lr * g / (|g| + eps).",
             lambda: _adam_first_step(2.0, 100.0, 0.01), atol=1e-4),
    # --- 12: atrous convolution, ASPP -------------------------------------------------------------
    Exercise("12.1", "A 3x3 kernel with rate 6: the side of the field it spans?",
             "d (k - 1) + 1 with d = 6.", lambda: _receptive_field([(3, 1, 6)])),
    Exercise("12.2", "That rate-6 kernel centred on pixel (4, 4) of an 8x8 map (zero padding): "
             "how many of its 9 taps land on the map?",
             "taps sit at 4 - 6, 4, 4 + 6 along each axis: which lie in 0..7?",
             lambda: int(sum(0 <= 4 + dy <= 7 and 0 <= 4 + dx <= 7
                             for dy in (-6, 0, 6) for dx in (-6, 0, 6)))),
    # --- 13: pyramid pooling ---------------------------------------------------------------------
    Exercise("13.1", "Adaptive average pooling of the 1x6 row [1, 2, 3, 4, 5, 6] into 1x2 bins?",
             "two bins of three values each.",
             lambda: F.adaptive_avg_pool2d(_t([[[[1, 2, 3, 4, 5, 6]]]]), (1, 2)).numpy()[0, 0, 0],
             atol=1e-6),
    Exercise("13.2", "... and into 1x3 bins?",
             "three bins of two values each.",
             lambda: F.adaptive_avg_pool2d(_t([[[[1, 2, 3, 4, 5, 6]]]]), (1, 3)).numpy()[0, 0, 0],
             atol=1e-6),
    # --- 15: write your own op -------------------------------------------------------------------
    Exercise("15.1", "The derivative of SiLU(x) = x sigmoid(x) at x = 0?",
             "s (1 + x (1 - s)) with s = sigmoid(0) = 1/2 and x = 0.",
             lambda: _grad_at(lambda t: t * F.sigmoid(t), 0.0), atol=1e-6),
    Exercise("15.2", "... and at x = 1 (4 decimals)?",
             "s = sigmoid(1) = 0.7311; then s (1 + 1 * (1 - s)).",
             lambda: _grad_at(lambda t: t * F.sigmoid(t), 1.0), atol=1e-4),
    Exercise("15.3", "gradcheck's central difference (f(x + eps) - f(x - eps)) / (2 eps) for "
             "f(x) = x^2 at x = 3 with eps = 0.5 (exact, no rounding)?",
             "((3.5)^2 - (2.5)^2) / 1: for a quadratic the central difference is exact.",
             lambda: ((3.5 ** 2) - (2.5 ** 2)) / (2 * 0.5), atol=1e-9),
    # --- 14: depthwise separable ----------------------------------------------------------------
    Exercise("14.1", "Weights (no bias) of a depthwise-separable 3x3 conv from 32 to 64 channels "
             "(depthwise 3x3 + pointwise 1x1)?",
             "depthwise: one 3x3 filter per input channel; pointwise: a 64 x 32 matrix.",
             lambda: (ms.nn.Conv2d(32, 32, 3, groups=32, bias=False).num_parameters()
                      + ms.nn.Conv2d(32, 64, 1, bias=False).num_parameters())),
    Exercise("14.2", "That count as a fraction of the standard 3x3 conv's 32 * 64 * 9 weights "
             "(4 decimals)?",
             "1 / C_out + 1 / k^2.",
             lambda: (32 * 9 + 32 * 64) / (32 * 64 * 9), atol=1e-4),
    # --- 16: self-attention -----------------------------------------------------------------------
    Exercise("16.1", "Q = K = [[1, 0], [0, 1]] (two tokens, E = 2): the attention weight of token 1 "
             "on itself (4 decimals)?",
             "scores = Q K^T / sqrt(2) = [1/sqrt(2), 0] on row 1; softmax of that row.",
             lambda: float(F.attention_weights(_t([[1, 0], [0, 1]]),
                                               _t([[1, 0], [0, 1]])).numpy()[0, 0]), atol=1e-4),
    Exercise("16.2", "Same Q and K, V = [[10], [20]]: output row 1 (3 decimals)?",
             "the weights of row 1 (your answer to 16.1 and 1 minus it) times the values 10 and 20.",
             lambda: float(F.scaled_dot_product_attention(
                 _t([[1, 0], [0, 1]]), _t([[1, 0], [0, 1]]), _t([[10], [20]])).numpy()[0, 0]),
             atol=1e-3),
    Exercise("16.3", "How many scores does one head of self-attention compute for 64 tokens?",
             "every query against every key: L x L.",
             lambda: int(np.prod(F.attention_weights(_t(np.zeros((64, 2))),
                                                     _t(np.zeros((64, 2)))).shape))),
    # --- 17: ViT and SETR ------------------------------------------------------------------------
    Exercise("17.1", "How many tokens does a 96 x 96 image give at patch size 8?",
             "(H / p) x (W / p).",
             lambda: int(np.prod(ms.nn.PatchEmbed(1, 2, 8)(_t(np.zeros((1, 1, 96, 96))))
                                 .shape[2:]))),
    Exercise("17.2", "Weights (bias included) of a patch embedding: patch 4, 3 input channels, "
             "embedding width 64?",
             "a conv with kernel = stride = 4: 4 * 4 * 3 weights per output channel, plus a bias.",
             lambda: ms.nn.PatchEmbed(3, 64, 4).num_parameters()),
    Exercise("17.3", "On the same image, how many times more attention scores at patch 2 than at "
             "patch 4?",
             "halving the patch doubles both grid sides: L grows 4x, and the scores are L^2.",
             lambda: ((64 // 2) ** 2) ** 2 / ((64 // 4) ** 2) ** 2),
    # --- 19: sliding window vs fully convolutional ------------------------------------------
    Exercise("19.1", "Multiply-adds of a 3x3 conv from 3 to 8 channels (no padding) on one 9x9 "
             "patch?",
             "outputs (9 - 3 + 1)^2 x 8, each a sum of 3 x 3 x 3 products.",
             lambda: summary(ms.nn.Conv2d(3, 8, 3), (3, 9, 9)).total_mult_adds),
    Exercise("19.2", "The FCN-32s-style head (5 halvings, fc6 a 7x7 conv, no padding) on a "
             "640 x 640 input: the side of its score map?",
             "pool5 = 640 / 32; a 7x7 conv without padding removes 6.",
             lambda: ms.nn.Sequential(*[ms.nn.MaxPool2d(2, 2) for _ in range(5)],
                                      ms.nn.Conv2d(1, 1, 7))(_t(np.zeros((1, 1, 640, 640))))
             .shape[-1]),
    Exercise("19.3", "Linear(8 * 5 * 5, 10) on a flattened (8, 5, 5) map, convolutionalized: the "
             "shape of the conv's weight?",
             "(out channels, in channels, kernel height, kernel width): the kernel covers the map.",
             lambda: ms.nn.convolutionalize([ms.nn.Linear(200, 10)], (8, 5, 5))[0].weight.shape),
    # --- 20: residual blocks ---------------------------------------------------------------------
    Exercise("20.1", "The derivative of y = x + tanh(x) at x = 0?",
             "the shortcut contributes 1; tanh'(0) = 1 - tanh(0)^2.",
             lambda: _grad_at(lambda t: t + F.tanh(t), 0.0), atol=1e-6),
    Exercise("20.2", "The largest factor by which 6 stacked sigmoids can multiply a gradient "
             "(6 decimals)?",
             "sigmoid' is at most 1/4 (at 0); a chain multiplies the derivatives.",
             lambda: 0.25 ** 6, atol=1e-6),
    Exercise("20.3", "Weights of the projection shortcut of BasicBlock(16, 32, stride=2) (a 1x1 "
             "conv without bias, then batch-norm with a scale and a shift per channel)?",
             "16 x 32 conv weights plus 2 per output channel.",
             lambda: BasicBlock(16, 32, stride=2).shortcut.num_parameters()),
    # --- 21: dense blocks ------------------------------------------------------------------------
    Exercise("21.1", "A dense block fed m = 48 channels, with l = 4 layers of growth rate k = 12: "
             "how many channels does it hand on (the whole output)?",
             "m + l k.", lambda: DenseBlock(48, 4, 12).out_channels),
    Exercise("21.2", "... and how many channels does its last layer receive?",
             "layer j (from 0) sees m + j k.",
             lambda: DenseBlock(48, 4, 12).layers[3][0].num_features),
    Exercise("21.3", "Weights (bias included) of a dense layer's 3x3 conv receiving 20 channels, "
             "k = 4?",
             "20 x 4 x 3 x 3 weights plus 4 biases.",
             lambda: DenseBlock(20, 1, 4).layers[0][2].num_parameters()),
    # --- 22: CRF refinement ----------------------------------------------------------------------
    Exercise("22.1", "dense_crf's spatial kernel w2 exp(-d^2 / (2 theta_gamma^2)) with w2 = 1, "
             "theta_gamma = 1, between two pixels 2 apart in a row (4 decimals)?",
             "d^2 = 4: exp(-4 / 2).", lambda: float(np.exp(-4 / 2)), atol=1e-4),
    Exercise("22.2", "Its bilateral kernel w1 exp(-d^2 / (2 theta_alpha^2) - |dI|^2 / "
             "(2 theta_beta^2)) with w1 = 3, theta_alpha = 5, for two pixels 5 apart of the same "
             "colour (4 decimals)?",
             "the colour term is 0; d^2 / (2 theta_alpha^2) = 25 / 50.",
             lambda: float(3 * np.exp(-25 / 50)), atol=1e-4),
    Exercise("22.3", "How many ordered pairs (i, j), i != j, does a fully connected CRF sum over "
             "on a 32 x 32 image?",
             "every pixel with every other pixel: HW (HW - 1).",
             lambda: 32 * 32 * (32 * 32 - 1)),
    # --- 18: Swin --------------------------------------------------------------------------------
    Exercise("18.1", "How many 4 x 4 windows does a 16 x 16 map have?",
             "(16 / 4) windows along each side.",
             lambda: F.window_partition(_t(np.zeros((1, 16, 16, 1))), 4).shape[0]),
    Exercise("18.2", "Attention scores per head with 4 x 4 windows on that 16 x 16 map?",
             "each of the h w tokens is scored against the ws^2 tokens of its window.",
             lambda: 16 * 16 * 4 ** 2),
    Exercise("18.3", "Patch merging turns a (16, 16, 48) map into what shape (H, W, C)?",
             "2 x 2 neighbours concatenated (4C), then a linear layer halves that to 2C.",
             lambda: (8, 8, 96)),
]


def _grad_at(fn: Callable[[ms.Tensor], ms.Tensor], z: float) -> float:
    x = ms.Tensor(np.array(z), requires_grad=True)
    fn(x).backward()
    return float(x.grad)


def _sgd_step(w: float, g: float, lr: float) -> float:
    p = ms.nn.Parameter(np.array([w]))
    (p * g).sum().backward()  # a loss whose gradient is g
    ms.optim.SGD([p], lr=lr).step()
    return float(p.numpy()[0])


def _adam_first_step(w: float, g: float, lr: float) -> float:
    p = ms.nn.Parameter(np.array([w]))
    (p * g).sum().backward()
    ms.optim.Adam([p], lr=lr).step()
    return abs(float(p.numpy()[0]) - w)


EXERCISES: dict[str, Exercise] = {e.id: e for e in _LIST}


def lesson_exercises(lesson: str) -> list[Exercise]:
    """The exercises of lesson ``"NN"``, in order."""
    return [e for e in _LIST if e.id.split(".")[0] == lesson]


def _as_array(a: Any) -> np.ndarray:
    if hasattr(a, "numpy") and callable(a.numpy):
        a = a.numpy()
    return np.asarray(a)


def is_right(exercise_id: str, answer: Any) -> bool:
    """Whether ``answer`` is right for the exercise (no printing)."""
    ex = EXERCISES[exercise_id]
    expected = ex.expected()
    if isinstance(expected, str):
        return isinstance(answer, str) and answer.strip().lower() == expected.lower()
    try:
        got = _as_array(answer).astype(np.float64)
    except (TypeError, ValueError):
        return False
    want = _as_array(expected).astype(np.float64)
    if got.shape != want.shape and not (got.size == want.size == 1):
        return False
    return bool(np.all(np.abs(got.reshape(want.shape) - want) <= ex.atol + 1e-9))


def check_answer(exercise_id: str, answer: Any) -> bool:
    """Say whether ``answer`` is right for exercise ``exercise_id`` (e.g. ``"03.2"``); on a wrong
    answer, give a hint. Returns True when right. The expected answer is never printed."""
    if exercise_id not in EXERCISES:
        raise KeyError(f"check_answer: no exercise {exercise_id!r}; exercises are "
                       f"{', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[exercise_id]
    if is_right(exercise_id, answer):
        print(f"{exercise_id}: right!")
        return True
    expected = ex.expected()
    shape_note = ""
    if not isinstance(expected, str):
        want, got = _as_array(expected), None
        with contextlib.suppress(TypeError, ValueError):  # not an array: no shape to compare
            got = _as_array(answer)
        if got is not None and want.size > 1 and got.shape != want.shape:
            shape_note = f" (the answer is an array of shape {want.shape}; yours is {got.shape})"
    print(f"{exercise_id}: not quite{shape_note}. Hint: {ex.hint}")
    return False


def try_it_yourself(lesson: str) -> None:
    """Print lesson ``"NN"``'s exercises and how to check an answer (no answers are printed)."""
    exs = lesson_exercises(lesson)
    print()
    print("=" * 78)
    print(f"Try it yourself: {len(exs)} exercises")
    print("=" * 78)
    for e in exs:
        print(textwrap.fill(f"[{e.id}] {e.question}", width=98, subsequent_indent="       "))
    print(f'Check an answer with:  from exercises import check_answer; check_answer("{exs[0].id}", '
          "your_answer)")
    print("(worked solutions: lessons/solutions/answers.py -- open it after you have tried)")


__all__ = ["Exercise", "EXERCISES", "check_answer", "is_right", "lesson_exercises",
           "try_it_yourself"]

if __name__ == "__main__":  # pragma: no cover - a quick self-check of the answers
    print("exercises:", ", ".join(EXERCISES))
