"""The article's picture of a drawing, to compare doodles' renderer with.

The R article draws each stroke with OpenCV, ``cv::line(img, p, q, colour, 3, LINE_4)`` on a
256 x 256 white canvas, and resizes the image by ``scale`` with ``cv::resize(..., INTER_LINEAR)``.
This module does the same with OpenCV for Python (``opencv-python-headless``), gray or with a hue
per stroke (the inks of doodles' "hue" encoding), with hard (LINE_4) or antialiased (LINE_AA)
lines, and returns images in doodles' layout: ``(n, side, side, channels)`` float64 in [0, 1].
"""

import colorsys
import json

import cv2
import numpy as np

CANVAS = 256


def stroke_inks(strokes, color):
    """The ink of each stroke, RGB in [0, 1]: black, or doodles' hue encoding (hue 360 k / n,
    saturation 1, value 220 / 255)."""
    if not color:
        return [(0.0, 0.0, 0.0)] * strokes
    return [colorsys.hsv_to_rgb(k / strokes, 1.0, 220.0 / 255.0) for k in range(strokes)]


def draw(drawing, scale, color=False, antialias=False, thickness=3):
    """One drawing (the dataset's JSON strokes) as the article draws it: (side, side, channels)."""
    strokes = json.loads(drawing)
    channels = 3 if color else 1
    # 8-bit canvas, as the article's CV_8UC3 / CV_8UC1 image.
    canvas = np.full((CANVAS, CANVAS, channels), 255, np.uint8)
    line_type = cv2.LINE_AA if antialias else cv2.LINE_4
    for (xs, ys), ink in zip(strokes, stroke_inks(len(strokes), color)):
        ink255 = tuple(int(round(255 * value)) for value in ink[:channels])
        points = list(zip((int(x) for x in xs), (int(y) for y in ys)))
        if len(points) == 1:
            points = points * 2
        for p, q in zip(points, points[1:]):
            cv2.line(canvas, p, q, ink255, thickness, line_type)
    image = canvas.astype(np.float32) / 255.0
    side = int(round(CANVAS * scale))
    if side != CANVAS:
        image = cv2.resize(image, (side, side), interpolation=cv2.INTER_LINEAR)
    return image.reshape(side, side, channels).astype(np.float64)


def draw_batch(drawings, scale, color=False, antialias=False, thickness=3):
    """Several drawings: (n, side, side, channels)."""
    return np.stack([draw(d, scale, color, antialias, thickness) for d in drawings])
