"""
=======================================
Train a tiny model in seconds
=======================================

The whole training cycle of :doc:`/user_guide/training` on a toy scale: six
small low-light images written to a temporary folder, two epochs on 32x32
thumbnails, export to ONNX, and enhancement with the exported file. It needs
the ``train`` extra (PyTorch).

Two epochs on six thumbnails teach the network very little; the point is the
workflow. The bundled weights come from the same code, run with the
configuration files in ``weights/`` on hundreds of images for many epochs.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

import skdce
from skdce.data import SAMPLES, low_light_sample
from skdce.train import (
    DCENet,
    DCENetPP,
    TrainConfig,
    apply_le_curves_torch,
    build_model,
    evaluate_model,
    load_checkpoint,
    load_config,
    train,
)
from skdce.train.data import ImageSet, load_images
from skdce.train.export import export_checkpoint, export_onnx

# %%
# A data folder and its splits
# ----------------------------
# A folder of low-light images, and list files naming the training and
# validation images (one file name per line), laid out like the LOL data set.

workdir = Path(tempfile.mkdtemp(prefix="skdce-gallery-")).resolve()
low = workdir / "low"
low.mkdir()
names = []
for i, sample in enumerate(SAMPLES + ("astronaut",)):  # six images
    name = f"{i}-{sample}.png"
    Image.fromarray(low_light_sample(sample, seed=i)[::4, ::4]).save(low / name)
    names.append(name)
(workdir / "train.txt").write_text("\n".join(names[:4]) + "\n")
(workdir / "val.txt").write_text("\n".join(names[4:]) + "\n")
print(sorted(p.name for p in workdir.iterdir()))

# %%
# The configuration
# -----------------
# :class:`skdce.train.TrainConfig` holds everything that determines a run. The
# same configuration as a TOML file, read by :func:`skdce.train.load_config`
# (relative paths resolve against the file's folder), gives an equal object.

config = TrainConfig(
    architecture="zero-dce",
    data_dir=str(low),
    train_list=str(workdir / "train.txt"),
    val_list=str(workdir / "val.txt"),
    image_size=32,
    epochs=2,
    batch_size=2,
    threads=1,
)
(workdir / "tiny.toml").write_text(
    'architecture = "zero-dce"\n'
    'data_dir = "low"\n'
    'train_list = "train.txt"\n'
    'val_list = "val.txt"\n'
    "image_size = 32\n"
    "epochs = 2\n"
    "batch_size = 2\n"
    "threads = 1\n"
)
print("TOML gives the same configuration:", load_config(workdir / "tiny.toml") == config)

# %%
# Train
# -----
# :func:`skdce.train.train` writes ``config.json``, ``checkpoint.pt`` (after
# every epoch) and ``log.csv``/``log.json`` into the run folder, and calls
# ``on_epoch`` with each epoch's row of the log.

rows = []
model = train(config, workdir / "run", on_epoch=rows.append)
print(type(model).__name__, isinstance(model, DCENet))
print(sorted(p.name for p in (workdir / "run").iterdir()))

terms = ("spatial", "exposure", "color", "smoothness")
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, split in zip(axes, ("train", "val")):
    epochs = [row["epoch"] for row in rows]
    bottom = np.zeros(len(rows))
    for term in terms:
        values = np.array([row[f"{split}_{term}"] for row in rows])
        ax.bar(epochs, values, bottom=bottom, label=term)
        bottom += values
    ax.set(title=f"{split} loss (weighted terms)", xlabel="epoch", xticks=epochs)
axes[0].legend(fontsize="small")
fig.tight_layout()

# %%
# The checkpoint and a validation pass
# ------------------------------------
# :func:`skdce.train.load_checkpoint` reads the checkpoint (tensors only);
# :func:`skdce.train.evaluate_model` computes the mean losses on a set of
# images.

checkpoint = load_checkpoint(workdir / "run" / "checkpoint.pt")
print("epochs done:", checkpoint["epoch"])
val_names = names[4:]
val_set = ImageSet(load_images(low, val_names, config.image_size), val_names)
print({k: round(v, 4) for k, v in evaluate_model(model, val_set, config).items()})

# %%
# The networks and the torch twin of the curves
# ---------------------------------------------
# :func:`skdce.train.build_model` makes a new network: :class:`~skdce.train.DCENet`
# (Zero-DCE, 24 maps) or :class:`~skdce.train.DCENetPP` (Zero-DCE++, 3 maps,
# depthwise-separable). A network takes two inputs, the image and its
# one-channel illumination context (computed from the whole image, see
# :doc:`/user_guide/curves`): ``model(image, context)`` gives the alpha maps,
# and ``model.enhance(image)`` computes the context itself and returns the
# enhanced image with the maps. :func:`skdce.train.apply_le_curves_torch`
# applies maps and is the twin of :func:`skdce.apply_le_curves`.

for arch in ("zero-dce", "zero-dce++"):
    net = build_model(arch)
    kind = "DCENetPP" if isinstance(net, DCENetPP) else "DCENet"
    print(f"{arch}: {kind}, {sum(p.numel() for p in net.parameters())} parameters")

image = low_light_sample("chelsea")[::4, ::4] / 255.0  # (75, 113, 3) float64
with torch.no_grad():
    x = torch.from_numpy(image.transpose(2, 0, 1)[None]).float()
    enhanced, alphas = model.enhance(x)  # the context of x, the maps, the curves
    enhanced_torch = apply_le_curves_torch(x, alphas)[0].permute(1, 2, 0).numpy()
same = torch.equal(enhanced[0].permute(1, 2, 0), torch.from_numpy(enhanced_torch))
print("model.enhance applies apply_le_curves_torch:", same)
alphas_np = alphas[0].permute(1, 2, 0).numpy()
enhanced_numpy = skdce.apply_le_curves(image.astype(np.float32), alphas_np)
difference = float(np.abs(enhanced_torch - enhanced_numpy).max())
print("torch vs NumPy curves, max difference:", difference)

# %%
# Export to ONNX and enhance
# --------------------------
# :func:`skdce.train.export.export_checkpoint` writes an ONNX file with the
# configuration and last validation figures in its metadata
# (:func:`skdce.train.export.export_onnx` does the same for a network in
# memory). The file works wherever a model name does.

onnx_path = export_checkpoint(workdir / "run" / "checkpoint.pt", workdir / "tiny.onnx")
export_onnx(model, workdir / "tiny-from-memory.onnx")
info = skdce.get_model(onnx_path)
print(info.iterations, info.shared_curve, sorted(info.recipe))

dark = low_light_sample("chelsea")
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, img, title in zip(
    axes,
    (dark, skdce.enhance(dark, model=onnx_path), skdce.enhance(dark, model="zero-dce")),
    ("input", "tiny model (2 epochs)", "bundled zero-dce"),
):
    ax.imshow(img)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

plt.show()

# %%
# The temporary folder is no longer needed.

import shutil  # noqa: E402

shutil.rmtree(workdir)
