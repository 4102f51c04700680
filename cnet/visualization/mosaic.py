"""Several drawings tiled into one picture."""
from typing import Sequence

import numpy as np


def tile_images(images: Sequence[np.ndarray], columns: int = 3,
                gap: int = 4, cell_height: int = 256) -> np.ndarray:
    """Tile (H, W, 3) uint8 images into a grid, row by row.

    Every image is scaled (nearest neighbour, its aspect kept) to
    ``cell_height`` rows and placed left-aligned in a cell as wide as the
    widest scaled image; cells are ``gap`` pixels apart on a black ground.

    Args:
        images: the drawings, at least one.
        columns: cells per row.
        gap: pixels between cells.
        cell_height: rows of each cell.

    Returns:
        (rows · cell_height + gaps, columns · cell_width + gaps, 3) uint8.
    """
    if not images:
        raise ValueError('tile_images: no image to tile')
    scaled = []
    for image in images:
        height, width = image.shape[:2]
        rows = (np.arange(cell_height) * height // cell_height)
        new_width = max(1, round(width * cell_height / height))
        cols = (np.arange(new_width) * width // new_width)
        scaled.append(image[rows][:, cols])
    cell_width = max(image.shape[1] for image in scaled)
    columns = min(columns, len(scaled))
    num_rows = -(-len(scaled) // columns)
    canvas = np.zeros((num_rows * (cell_height + gap) - gap,
                       columns * (cell_width + gap) - gap, 3), np.uint8)
    for index, image in enumerate(scaled):
        top = (index // columns) * (cell_height + gap)
        left = (index % columns) * (cell_width + gap)
        canvas[top:top + cell_height, left:left + image.shape[1]] = image
    return canvas
