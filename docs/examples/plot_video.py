"""
===========================================
Video: steady curves and temporal denoising
===========================================

:class:`skdce.video.VideoEnhancer` takes the frames of a video in order and
keeps a running, motion-aware average of them: the noise of a still scene
falls with every frame, the curves stop wobbling with the noise, and a cut or
a light switched on is adopted at once. Here a short synthetic clip (a
scikit-image photo darkened by :func:`skdce.data.darken`, with fresh sensor
noise in every frame) pans for a while, stops, and then the light goes up:
each frame enhanced alone by :func:`skdce.enhance` is compared with the video
enhancer. For files, :func:`skdce.video.enhance_video` (or
``skdce enhance clip.mp4 -o out.mp4``) runs the same enhancer between
PyAV's decoder and encoder and returns a :class:`~skdce.video.VideoReport`
(frames, codec, the streams copied). See :doc:`/user_guide/video`.
"""

import matplotlib.pyplot as plt
import numpy as np
import skimage.data

import skdce
from skdce.data import darken
from skdce.video import VideoEnhancer

photo = skimage.data.astronaut()[40:232:2, 100:356:2]  # (96, 128, 3) uint8
frames, clean, gains = [], [], []
for i in range(30):
    x = min(i, 12) * 2  # the camera pans 2 pixels a frame for 12 frames, then stops
    crop = np.ascontiguousarray(photo[:, x : x + 96])
    gain = 0.12 if i < 22 else 0.3  # the light goes up at frame 22
    frames.append(darken(crop, gain=gain, seed=i))
    clean.append(darken(crop, gain=gain, photons=None, read_noise=0.0))
    gains.append(gain)
print(len(frames), frames[0].shape, frames[0].dtype)

# %%
# Each frame alone, and as a video
# --------------------------------

enhancer = VideoEnhancer(fps=24)  # zero-dce++ unless model= says otherwise
video = [enhancer.push(f) for f in frames]
alone = [skdce.enhance(f, model=enhancer.model) for f in frames]
target = [skdce.enhance(c, model=enhancer.model) for c in clean]  # the noiseless frames, enhanced
print(f"restarts (first frame, cuts, light changes): {enhancer.cuts}")


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


print(f"PSNR each frame alone {np.mean([psnr(a, t) for a, t in zip(alone, target)]):.2f} dB, "
      f"video {np.mean([psnr(v, t) for v, t in zip(video, target)]):.2f} dB")

# %%
# Before and after
# ----------------
# Frame 20 (the camera has stopped: the average holds eight frames) and frame
# 22, the first frame after the light went up, which the video adopts at once.

fig, axes = plt.subplots(2, 4, figsize=(10, 6))
for row, i in enumerate((20, 22)):
    for ax, img, title in zip(axes[row], (frames[i], alone[i], video[i], target[i]),
                              ("input", "each frame alone", "VideoEnhancer", "noiseless, enhanced")):
        ax.imshow(np.clip(img, 0, 1))
        ax.set_title(f"{title}\nframe {i}", fontsize=9)
        ax.axis("off")
fig.tight_layout()

# %%
# Flicker
# -------
# The mean level of each output frame: frame by frame it jumps with the noise,
# the video's is steady and follows the light the frame it changes.

fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot([a.mean() for a in alone], ".-", label="each frame alone")
ax.plot([v.mean() for v in video], ".-", label="VideoEnhancer")
ax.plot([t.mean() for t in target], ":", color="k", label="noiseless frames")
ax.axvline(12, color="0.7", lw=0.8)
ax.axvline(22, color="0.7", lw=0.8)
ax.text(12.3, ax.get_ylim()[0], " camera stops", fontsize=8, va="bottom")
ax.text(22.3, ax.get_ylim()[0], " light up", fontsize=8, va="bottom")
ax.set_xlabel("frame")
ax.set_ylabel("mean output level")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
