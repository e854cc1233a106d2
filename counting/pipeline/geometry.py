"""Plane geometry in image coordinates (x right, y down), in pixels unless stated otherwise.

Sides of a directed segment
---------------------------
A line is the directed segment ``start -> end``. Its *left* and *right* are those of a person
standing on the image at ``start`` and walking towards ``end``, with the image seen as a map
from above (x to the right, **y downwards**). Formally, for a point ``p``::

    side(p) = (end.x - start.x) * (p.y - start.y) - (end.y - start.y) * (p.x - start.x)

    side(p) < 0  -> p is on the LEFT   side
    side(p) > 0  -> p is on the RIGHT  side

Because y grows downwards this is the opposite sign of the usual maths (y up) convention.
Examples::

    start (0,0) ----------> end (10,0)         start (5,0)
                                                    |
         LEFT  = above (y < 0)                      |   RIGHT = x < 5 | LEFT = x > 5
         RIGHT = below (y > 0)                      v
                                                 end (5,10)

A crossing from LEFT to RIGHT is counted as ``"in"``, RIGHT to LEFT as ``"out"``. Draw the line
so that walking along it, "inside" is on your right hand. Only crossings whose crossing point
lies on the segment itself (not its infinite extension) count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from counting.pipeline.types import Point


def side_value(start: Point, end: Point, p: Point) -> float:
    """Signed distance of ``p`` to the infinite line through the segment, in pixels.

    Negative on the left, positive on the right (see the module docstring). Zero for a
    degenerate segment.
    """
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy)
    if length == 0.0:
        return 0.0
    return (dx * (p[1] - start[1]) - dy * (p[0] - start[0])) / length


def crossing_parameter(start: Point, end: Point, a: Point, b: Point) -> float | None:
    """Where the path ``a -> b`` meets the infinite line of ``start -> end``.

    Returns the parameter ``t`` along the segment (0 at start, 1 at end) of the intersection,
    or None when the path is parallel to the line.
    """
    rx, ry = end[0] - start[0], end[1] - start[1]
    sx, sy = b[0] - a[0], b[1] - a[1]
    denom = rx * sy - ry * sx
    if denom == 0.0:
        return None
    qx, qy = a[0] - start[0], a[1] - start[1]
    # Solve start + t*r = a + u*s for t.
    return (qx * sy - qy * sx) / denom


def lerp(a: Point, b: Point, t: float) -> Point:
    """Point at parameter ``t`` on ``a -> b``."""
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def denormalise(point: Point, width: int, height: int) -> Point:
    """Normalised (0..1) coordinates to pixels."""
    return (point[0] * width, point[1] * height)


def polygon_signed_distance(points: Sequence[Point], p: Point) -> float:
    """Signed distance from ``p`` to a simple polygon's boundary: > 0 inside, < 0 outside."""
    n = len(points)
    best = min(_point_segment_distance(p, points[i], points[(i + 1) % n]) for i in range(n))
    return best if polygon_contains(points, p) else -best


def polygon_contains(points: Sequence[Point], p: Point) -> bool:
    """Whether ``p`` is inside a simple polygon (ray casting towards +x)."""
    n = len(points)
    inside = False
    px, py = p
    for i in range(n):
        x1, y1 = points[i]
        x2, y2 = points[(i + 1) % n]
        if (y1 > py) != (y2 > py):
            x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
            if px < x_cross:
                inside = not inside
    return inside


def _point_segment_distance(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return math.hypot(p[0] - a[0], p[1] - a[1])
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))


def polygon_is_simple(points: Sequence[Point]) -> bool:
    """True when no two non-adjacent edges of the polygon intersect and its area is non-zero."""
    n = len(points)
    if n < 3:
        return False
    area = 0.0
    for i in range(n):
        x1, y1 = points[i]
        x2, y2 = points[(i + 1) % n]
        area += x1 * y2 - x2 * y1
    if abs(area) < 1e-12:
        return False
    for i in range(n):
        a1, a2 = points[i], points[(i + 1) % n]
        for j in range(i + 1, n):
            if j == i or (j + 1) % n == i or (i + 1) % n == j:
                continue
            b1, b2 = points[j], points[(j + 1) % n]
            if _segments_intersect(a1, a2, b1, b2):
                return False
    return True


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _segments_intersect(a1: Point, a2: Point, b1: Point, b2: Point) -> bool:
    d1, d2 = _orient(b1, b2, a1), _orient(b1, b2, a2)
    d3, d4 = _orient(a1, a2, b1), _orient(a1, a2, b2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)
