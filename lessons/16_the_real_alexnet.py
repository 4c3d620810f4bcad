# %%
"""The real AlexNet: torchvision's pretrained weights in NumPy, its conv1 kernels, a photo named.

Every network in the earlier lessons was small and briefly trained. This lesson loads the
AlexNet that torchvision trained on ImageNet (``alexnet-owt-7be5be79.pth``, 61,100,840
parameters) into minialex without PyTorch, looks at the 64 kernels its first layer learned,
measures how smooth they are against a random initialisation, names what is in a photo and
follows that photo through conv1, conv2 and conv5.

    python lessons/16_the_real_alexnet.py --weights alexnet-owt-7be5be79.pth

Without ``--weights`` the same code runs on untrained (randomly initialised) weights, and
the lesson says so wherever that changes what the numbers mean.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib.cbook
from common import claim, lesson_args, save_figure, say, section

import minialex
from minialex import backend
from minialex.classify import classify
from minialex.cli.classify import WEIGHTS_URL
from minialex.data.imagenet import MEAN, STD, eval_crops
from minialex.models import alexnet
from minialex.viz import feature_maps, image_grid, plot_curves
from minialex.weights import load_weights

np = backend.np


def weights_option(parser) -> None:
    parser.add_argument("--weights", type=Path, default=None,
                        help="torchvision's alexnet-owt-7be5be79.pth (or a .safetensors / "
                             ".npz with the same names); default: untrained weights")


args = lesson_args(__doc__, weights_option)
pretrained = args.weights is not None

# %%
section("1. The weights file, read without PyTorch")
say("""
torchvision publishes its AlexNet as a PyTorch checkpoint: a zip archive whose data.pkl is a
pickle describing each tensor (name, shape, strides, which raw block of bytes holds it) and
whose data/0, data/1, ... members are those raw float32 bytes. minialex.weights reads the
archive with Python's zipfile, the pickle with an unpickler that refuses every name except
the few a state dict uses (so a hostile file cannot run code), checks every size against the
bytes present, and hands back NumPy arrays. alexnet("torchvision", weights=PATH) then maps
torchvision's names (features.0.weight, ..., classifier.6.bias) onto conv1 ... fc8.
""")
if pretrained:
    state = load_weights(args.weights)
    n_params = sum(int(a.size) for a in state.values())
    print(f"  weights: loaded {args.weights}: {len(state)} tensors, {n_params:,} parameters")
    for name in list(state)[:4]:
        print(f"    {name:<22} {str(state[name].dtype):<8} {state[name].shape}")
    print("    ...")
    claim("parameters (torchvision docs)", "61,100,840", f"{n_params:,}")
    del state
else:
    print("  weights: none given: this run uses UNTRAINED weights (PyTorch's default random")
    print("  initialisation), so the kernels, the photo's classes and the feature maps below")
    print("  show what a network knows before training: nothing. For the real thing download")
    print(f"    {WEIGHTS_URL}")
    print("  and run: python lessons/16_the_real_alexnet.py --weights alexnet-owt-7be5be79.pth")
model = alexnet("torchvision", weights=args.weights).eval()
untrained = alexnet("torchvision").eval()  # the same architecture at random initialisation
label = "pretrained" if pretrained else "untrained"

# %%
section("2. The 64 kernels of conv1")
say("""
Krizhevsky, Sutskever and Hinton show their 96 conv1 kernels in Figure 3 of the paper and
describe frequency- and orientation-selective kernels and coloured blobs. torchvision's
one-tower AlexNet has 64 kernels of 11x11 on the three colour channels. Each one below is
scaled to its own [min, max], so its pattern shows whatever its size.
""")
kernels = model.conv1.weight.numpy()
print(f"  conv1 weight: {kernels.shape} (filters, colour channels, height, width)")
fig = image_grid(kernels, ncols=8, title=f"conv1: {kernels.shape[0]} {label} kernels, "
                                         f"{kernels.shape[2]}x{kernels.shape[3]} RGB")
save_figure(fig, args, "conv1_kernels")


# %%
def low_frequency_share(w, radius: int = 2) -> tuple[float, list[float]]:
    """Share of the kernels' energy (sum of squares) in spatial frequencies within ``radius``
    cycles per kernel width of zero; and, per radius 0, 1, 2, ..., the energy of one
    frequency relative to white noise (1.0 everywhere for independent random weights).

    w: (C_out, C_in, K, K). The 2-D DFT of each channel spreads a kernel's energy over K x K
    frequencies (Parseval: the total is unchanged); white noise spreads it evenly.
    """
    k = w.shape[-1]
    power = (np.abs(np.fft.fft2(w.astype(np.float64))) ** 2).sum(axis=(0, 1))  # (K, K)
    share = power / power.sum()
    f = np.fft.fftfreq(k) * k  # integer frequencies -K//2 .. K//2
    dist = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    ring = np.rint(dist)
    per_radius = [float(share[ring == i].mean() * k * k) for i in range(int(ring.max()) + 1)]
    return float(share[dist <= radius].sum()), per_radius


section("3. How smooth are the kernels? Energy at low spatial frequencies")
say("""
An edge or a colour blob spanning the 11x11 window changes slowly from pixel to pixel: most
of its energy sits at low spatial frequencies. Independent random weights are white noise:
their energy spreads evenly over all 121 frequencies of the window. The share within 2
cycles per window of zero (13 of the 121 frequencies) separates the two.
""")
k = kernels.shape[-1]
f = np.fft.fftfreq(k) * k
n_low = int((np.sqrt(f[:, None] ** 2 + f[None, :] ** 2) <= 2).sum())
share, spectrum = low_frequency_share(kernels)
share_random, spectrum_random = low_frequency_share(untrained.conv1.weight.numpy())
print(f"  share of conv1 energy within 2 cycles per window ({n_low} of {k * k} frequencies):")
print(f"    {label + ' kernels':<22} {share:6.1%}")
print(f"    {'random initialisation':<22} {share_random:6.1%}")
print(f"    {'white noise (expected)':<22} {n_low / k ** 2:6.1%}")
claim("conv1 kernels are smooth (Fig. 3)", "blobs, edges",
      f"{share:.0%} low-freq vs {share_random:.0%} at init",
      "" if pretrained else "no weights file given: both are untrained here")
fig = plot_curves({f"{label} conv1": (list(range(len(spectrum))), spectrum),
                   "random initialisation": (list(range(len(spectrum))), spectrum_random)},
                  xlabel="spatial frequency (cycles per 11-pixel window)",
                  ylabel="energy per frequency (white noise = 1)", log=True, hline=1.0,
                  title="Where conv1's energy sits: low frequencies = smooth patterns")
save_figure(fig, args, "conv1_spectrum")

# %%
section("4. Naming what is in a photo")
say("""
The photo of Grace Hopper that ships with matplotlib, prepared the way torchvision prepares
images for this network: shorter side resized to 256 with bilinear filtering, the central
224x224 window, divided by 255, then each channel shifted by the ImageNet mean and divided
by its standard deviation. The probabilities are the softmax of the 1,000 logits.
""")
photo = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
(prediction,) = classify(model, [photo], top=5)
print(dataclasses.replace(prediction, image="grace_hopper.jpg (matplotlib's sample photo)"))
if not args.quick:
    (ten,) = classify(model, [photo], top=5, ten_crop=True)
    print(f"\n  with the paper's ten crops averaged: top-1 {ten.labels[0]} "
          f"({ten.probabilities[0]:.1%});\n  top-5: {', '.join(ten.labels)}")
if pretrained:
    say(f"""
    The network's best guess is "{prediction.labels[0]}" with probability
    {prediction.probabilities[0]:.0%}. It knows only the 1,000 ImageNet classes, and none of
    them is a person as such (the nearest are "groom", "scuba diver" and "ballplayer"), so
    a portrait is named by the other things it shows.
    """)
else:
    say(f"""
    Untrained, every class gets about 1/1000 = 0.1%: the best of them has
    {prediction.probabilities[0]:.2%}, the differences are noise from the random weights.
    """)

# %%
def receptive_field(net, last: str) -> int:
    """Input pixels (per side) that one value after layer ``last`` depends on: each window of
    k positions, taken in steps of the product of the strides below it, widens it by
    (k - 1) * that step."""
    field, step = 1, 1
    for name, layer in net.named_children():
        if hasattr(layer, "kernel_size"):
            field += (layer.kernel_size[0] - 1) * step
            step *= layer.stride[0]
        if name == last:
            return field
    raise ValueError(f"no layer {last!r}")


section("5. The photo inside the network: after conv1, conv2 and conv5")
batch = eval_crops(photo)
shown = {}
with minialex.no_grad():
    h = minialex.tensor(batch)
    for name, layer in model.named_children():
        h = layer(h)
        if name in ("relu1", "relu2", "relu5"):
            shown[name] = h.numpy()
for name, acts in shown.items():
    print(f"  after {name}: {acts.shape[1]} maps of {acts.shape[2]}x{acts.shape[3]}, "
          f"{(acts > 0).mean():.0%} of the values nonzero")
seen = batch[0] * np.asarray(STD, np.float32)[:, None, None] + np.asarray(MEAN, np.float32)[
    :, None, None]
save_figure(image_grid(seen[None], labels=["network input (224x224 centre crop)"],
                       normalize=False), args, "input_photo")
maps = 16 if args.quick else 32
for name, title in (("relu1", "conv1 + ReLU"), ("relu2", "conv2 + ReLU"),
                    ("relu5", "conv5 + ReLU")):
    side = shown[name].shape[-1]
    fig = feature_maps(shown[name], max_maps=maps, ncols=8,
                       title=f"{title}: first {maps} maps of {side}x{side} ({label})")
    save_figure(fig, args, f"feature_maps_{name}")
fields = {name: receptive_field(model, name) for name in ("conv1", "conv2", "conv5")}
print("  input pixels (per side) behind one value: "
      + ", ".join(f"{name} {field}x{field}" for name, field in fields.items()))
say(f"""
After conv1 the maps still look like the photo: each kernel lights up where its edge
direction or colour occurs. Each later layer sees a larger part of the image through the
pooled maps below it; by conv5 a value depends on a {fields['conv5']}x{fields['conv5']}-pixel
region, and the maps mark where some learned part or texture is present rather than tracing
outlines.
""" if pretrained else """
With untrained weights the conv1 maps still show the photo: a random kernel is a random
mix of a patch's brightness and of differences between its pixels, so the picture survives
with noise on it. The deeper maps lose it: random mixtures of random mixtures carry no
pattern that a trained network would have kept.
""")

# %%
section("Try this")
say("""
1. Run python -m minialex classify with your own photos and --weights (add --ten-crop to
average the paper's ten crops): which classes does AlexNet confuse?

2. Change the radius in low_frequency_share: at which radius does half of the pretrained
kernels' energy sit?

3. Load the weights into alexnet("torchvision", num_classes=10): the error names fc8 and
both shapes; alexnet("torchvision", width=0.5) lists every layer that no longer fits.

4. Show the maps of another layer (relu3, relu4) or of another photo.
""")

section("Next")
say("""
This is the end of the course: from a scalar autograd engine in lesson 01 to the network
that started the deep learning boom, in NumPy, running torchvision's trained weights. The
exercises (python -m minialex exercises) ask you to write the key pieces yourself, checked
by the same properties the library is tested with.
""")
