"""Draw trajectories over a surface's contours: a PNG, or a GIF that plays them step by step.

Compute, then draw: :func:`contours` returns the grid and the contour heights as plain arrays;
:func:`draw` only draws what :func:`lrlab.playground.trajectories` and :func:`contours`
computed. matplotlib is imported when drawing starts (the Agg canvas, no pyplot state), and
files are written through a temporary file and a rename, so a failure leaves nothing
half-written.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lrlab._checks import IMAGE_METADATA, image_file, mark_gif
from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab.playground._run import Trajectories
from lrlab.playground._surfaces import Surface, get_surface

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Contours", "contours", "draw", "write_gif", "write_png"]

#: How many contour heights to draw.
LEVELS = 24
_CMAP = "viridis"
#: Colours of a GIF frame kept free for what moves (drawn unblended, in few colours).
_GIF_RESERVED = 32


@dataclass(frozen=True)
class Contours:
    """A surface sampled on a grid over its box, and the heights to draw contours at.

    Attributes:
        x: grid abscissae, ``(n,)``.
        y: grid ordinates, ``(n,)``.
        z: ``f(x[j], y[i])`` at row ``i``, column ``j``, ``(n, n)``.
        levels: increasing contour heights, ``(LEVELS,)``: geometric steps above the lowest
            minimum when the surface asks for log levels, else even steps.
        log: whether the levels are log-spaced.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    levels: np.ndarray
    log: bool


def contours(surface: str | Surface, n: int = 201) -> Contours:
    """Sample ``surface`` on an ``n`` by ``n`` grid over its box and choose contour heights.

    Log levels run from the 0.5th percentile of the height above the lowest minimum to the
    highest point of the box, in equal ratios: a deep valley such as Rosenbrock's gets as
    many contours as its walls. Even levels span the grid's range.

    Example:
        >>> c = contours("rosenbrock", n=51)
        >>> c.z.shape, bool(c.log), bool(np.all(np.diff(c.levels) > 0))
        ((51, 51), True, True)
    """
    surf = get_surface(surface)
    x0, x1, y0, y1 = surf.box
    x = torch.linspace(x0, x1, n, dtype=torch.float64)
    y = torch.linspace(y0, y1, n, dtype=torch.float64)
    gy, gx = torch.meshgrid(y, x, indexing="ij")
    z = surf(gx, gy).numpy()
    if surf.log_levels:
        floor = min(float(surf(*torch.tensor(m, dtype=torch.float64))) for m in surf.minima)
        height = z - floor
        lo = np.percentile(height[height > 0], 0.5)
        levels = floor + np.geomspace(lo, height.max(), LEVELS)
    else:
        levels = np.linspace(z.min(), z.max(), LEVELS + 2)[1:-1]
    return Contours(x=x.numpy(), y=y.numpy(), z=z, levels=levels, log=surf.log_levels)


def draw(data: Trajectories, grid: Contours | None = None, *, step: int | None = None,
         size: tuple[float, float] | None = None) -> Figure:
    """The trajectories up to ``step`` (default: all) over the surface's contours.

    Each member is a line through its points with its label in the legend; a member that
    diverged stops at its last finite point, marked with a cross (on the box's edge when
    the point lies outside the view) and labelled with the step. The start is a black dot,
    every minimum a star; the view is the surface's box at equal scales.

    Args:
        data: what :func:`lrlab.playground.trajectories` returned.
        grid: the contours (default: ``contours(data.surface)``).
        step: draw the first ``step`` updates only (a frame of the animation).
        size: the figure's size in inches (default: the box's shape plus the legend).

    Returns:
        A matplotlib ``Figure`` on an Agg canvas (not registered with pyplot).
    """
    fig, ax = _background(data, grid or contours(data.surface), size or _size(data, 6.0))
    _show(data, _moving(data, ax), data.steps if step is None else step)
    return fig


def write_png(data: Trajectories, out: str | os.PathLike, *,
              grid: Contours | None = None, dpi: int = 110) -> Path:
    """Draw every step and write the PNG ``out`` (replaced whole, or left untouched; a file
    lrlab did not draw is refused, :func:`~lrlab._checks.image_file`)."""
    out = image_file(out, ".png", "trajectories.png")
    fig = draw(data, grid)
    return atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi,
                                                     bbox_inches="tight", pad_inches=0.1,
                                                     metadata=IMAGE_METADATA))


def write_gif(data: Trajectories, out: str | os.PathLike, *, grid: Contours | None = None,
              frames: int = 60, fps: int = 12, dpi: int = 80) -> Path:
    """Write an animated GIF (matplotlib's ``PillowWriter``): the trajectories growing over
    ``frames`` evenly spaced steps (every step when ``frames`` exceeds them), the last frame
    held for half a second.

    The contours, axes and legend are drawn once into an image; each frame draws only the
    trajectories over it (a full redraw costs about ten times more).
    """
    out = image_file(out, ".gif", "trajectories.gif")
    if frames < 2:
        raise LrlabError(f"an animation needs at least 2 frames, got {frames}")
    if fps < 1:
        raise LrlabError(f"fps must be at least 1, got {fps}")
    from matplotlib.animation import PillowWriter

    fig = _overlay(*_background(data, grid or contours(data.surface), _size(data, 5.0)), dpi)
    artists = _moving(data, fig.axes[0], smooth=False)
    # one frame per step at most: more show the same steps (10**11 failed allocating them)
    shown = np.unique(np.linspace(0, data.steps, min(frames, data.steps + 1)).round().astype(int))
    shown = np.concatenate([shown, np.full((fps + 1) // 2, data.steps)])

    def write(tmp: Path) -> None:
        # Pillow picks the format from the extension, so the frames go to a .gif beside
        # the temporary file first.
        with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".gif.") as folder:
            gif = Path(folder) / "frames.gif"
            writer = PillowWriter(fps=fps)
            with writer.saving(fig, str(gif), dpi):
                for s in shown:
                    _show(data, artists, int(s))
                    writer.grab_frame()
            mark_gif(gif)
            os.replace(gif, tmp)

    return atomic_write(out, write)


# -- drawing ------------------------------------------------------------------------------


def _background(data: Trajectories, grid: Contours, size: tuple[float, float]):
    """The figure and axes with everything that does not move: contours, minima, start,
    the legend of every member, the view."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import BoundaryNorm
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    surf = data.surface
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    norm = BoundaryNorm(grid.levels, 256, extend="both")
    ax.contourf(grid.x, grid.y, grid.z, levels=grid.levels, cmap=_CMAP, norm=norm,
                extend="both", alpha=0.35)
    ax.contour(grid.x, grid.y, grid.z, levels=grid.levels, cmap=_CMAP, norm=norm,
               linewidths=0.6)
    minima = np.asarray(surf.minima)
    ax.plot(minima[:, 0], minima[:, 1], "*", color="gold", markeredgecolor="black",
            markersize=15, zorder=5, label="minimum" if len(minima) == 1 else "minima")
    start = data.path[0, 0]
    ax.plot(start[0], start[1], "o", color="black", markersize=6, zorder=5, label="start")
    handles = [Line2D([], [], color=c, linewidth=1.6, marker=".", markersize=3, label=label)
               for c, label in zip(_colours(len(data.labels)), _legend(data))]
    x0, x1, y0, y1 = surf.box
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y", aspect="equal")
    ax.set_title("step", color="none")  # room for the title, which moves (see _moving)
    fig.legend(handles=[*ax.get_legend_handles_labels()[0], *handles],
               loc="outside right upper", fontsize="small", frameon=False)
    return fig, ax


def _gif_colours(rgb: Any, colours: list) -> np.ndarray:
    """``rgb`` in at most ``256 - _GIF_RESERVED`` colours, the members' exact colours among
    them: a GIF frame holds 256 colours, and Pillow's adaptive palette would merge thin
    legend lines into the background's hues. The reserve keeps room for the moving artists
    (drawn unblended in the members' colours), so each frame's palette is exact."""
    from PIL import Image

    own = [(0, 0, 0), (255, 255, 255)]
    own += [tuple(round(255 * v) for v in c[:3]) for c in colours]
    palette = rgb.quantize(256 - _GIF_RESERVED - len(own)).getpalette()
    palette = palette[: 3 * (256 - _GIF_RESERVED - len(own))] + [v for c in own for v in c]
    fixed = Image.new("P", (1, 1))
    fixed.putpalette(palette + [0] * (768 - len(palette)))
    # RGBA: matplotlib composites it without a conversion per frame
    return np.asarray(rgb.quantize(palette=fixed, dither=Image.Dither.NONE).convert("RGBA"))


def _overlay(fig: Figure, ax: Any, dpi: int) -> Figure:
    """A figure showing ``fig`` drawn once at ``dpi`` as an image, with empty, invisible
    axes exactly over ``ax`` (same place, same limits) to draw the moving artists in."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    fig.set_dpi(dpi)
    fig.canvas.draw()  # lays the figure out and fixes the axes' place (equal aspect)
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")
    image = _gif_colours(rgb, _colours(len(fig.legends[0].get_lines()) - 2))
    frame = Figure(figsize=fig.get_size_inches(), dpi=dpi)
    FigureCanvasAgg(frame)
    frame.figimage(image, origin="upper", zorder=-1)  # under the axes
    top = frame.add_axes(ax.get_position().bounds)
    top.set(xlim=ax.get_xlim(), ylim=ax.get_ylim())
    top.set_axis_off()
    return frame


def _moving(data: Trajectories, ax: Any, *, smooth: bool = True) -> dict[str, Any]:
    """Per member an (empty) line, a head and a divergence cross; and the title.
    ``smooth=False`` draws them without antialiasing: in exactly the members' colours."""
    lines, heads, crosses = [], [], []
    for c in _colours(len(data.labels)):
        lines.append(ax.plot([], [], "-", color=c, linewidth=1.6, marker=".", markersize=3,
                             zorder=4, antialiased=smooth)[0])
        heads.append(ax.plot([], [], "o", color=c, markeredgecolor="black", markersize=6,
                             zorder=6, clip_on=False, antialiased=smooth)[0])
        crosses.append(ax.plot([], [], "X", color=c, markeredgecolor="black", markersize=11,
                               zorder=6, clip_on=False, antialiased=smooth)[0])
    for artist in (*heads, *crosses):  # unclipped (on the box's edge), and often empty:
        artist.set_in_layout(False)     # no say in the figure's layout
    title = ax.set_title("", color="black", antialiased=smooth)
    return {"lines": lines, "heads": heads, "crosses": crosses, "title": title}


def _show(data: Trajectories, artists: dict[str, Any], step: int) -> None:
    """Set every member's line to its points up to ``step``."""
    x0, x1, y0, y1 = data.surface.box
    for i in range(len(data.labels)):
        end = min(step, int(data.last[i]))
        pts = data.path[i, : end + 1]
        artists["lines"][i].set_data(pts[:, 0], pts[:, 1])
        diverged = 0 <= data.diverged_at[i] <= step
        here = [np.clip(pts[-1, 0], x0, x1)], [np.clip(pts[-1, 1], y0, y1)]
        artists["heads"][i].set_data(*(([], []) if diverged else here))
        artists["crosses"][i].set_data(*(here if diverged else ([], [])))
    name = data.surface.name
    artists["title"].set_text(f"{name}: step {step} of {data.steps}" if step < data.steps
                              else f"{name}: {data.steps} steps")


def _legend(data: Trajectories) -> list[str]:
    """Each member's legend entry: its label, and the step it diverged at if it did."""
    return [label if d < 0 else f"{label} (diverged at step {d})"
            for label, d in zip(data.labels, data.diverged_at)]


def _size(data: Trajectories, height: float) -> tuple[float, float]:
    """A figure ``height`` inches tall whose axes keep the box's shape, plus the legend."""
    x0, x1, y0, y1 = data.surface.box
    width = min(max((x1 - x0) / (y1 - y0), 0.5), 2.5) * (height - 0.8)
    legend = 0.8 + 0.075 * max(len(label) for label in (*_legend(data), "minima"))
    return (width + 0.8 + legend, height)


def _colours(k: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]
