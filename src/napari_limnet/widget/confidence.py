"""A strip that shows the current object's per-slice confidence along z; click it to go there.

One cell per slice, left = slice 0: green = confident, red = not, grey = no opinion (the object
is not there and nothing suggests it should be). The slice on screen is outlined, and the slice
that most needs the user (:meth:`LimNetController.least_confident_slice`) gets a marker.
Painting reads a dict prepared after each round, so it never slows a round down.

When the user's own corrections show that the colours do not follow the truth on this image
(:class:`~napari_limnet.inference.strip_check.StripCheck`: most large corrections were on slices
shown as sure), the colours are drawn faded and the strip says "weak guide here".
"""

from __future__ import annotations

from qtpy.QtCore import QRectF, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

NO_OPINION = QColor(70, 70, 70)
TOOLTIP = ("Confidence per slice (left = slice 0): green = sure, red = check it. Click to go there. "
           "It follows the truth on objects with visible edges (cells, nuclei, lesions); on structures "
           "without them (many brain regions) it is a weak guide, and it says so once your corrections show it.")


WEAK_LABEL = "weak guide here (see tooltip)"


def faded(color: QColor) -> QColor:
    """``color`` blended 70 % toward the no-opinion grey."""
    return QColor(*(int(0.3 * c + 0.7 * g) for c, g in zip(color.getRgb()[:3], NO_OPINION.getRgb()[:3])))


def confidence_color(value: float) -> QColor:
    """Red (0) through yellow (0.5) to green (1)."""
    v = max(0.0, min(1.0, float(value)))
    if v < 0.5:
        return QColor(220, int(60 + 300 * v), 50)
    return QColor(int(220 - 340 * (v - 0.5)), 210, 60)


class ConfidenceStrip(QWidget):
    """Per-slice confidence as a coloured strip; emits ``slice_clicked(z)``."""

    slice_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.n_slices = 0
        self.values: dict[int, float] = {}
        self.current: int | None = None
        self.worst: int | None = None
        self.reliable: bool | None = None
        self.setMinimumHeight(16)
        self.setMaximumHeight(22)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setToolTip(TOOLTIP)

    def set_data(self, n_slices: int, values: dict[int, float], worst: int | None, reliable: bool | None = None,
                 note: str = "") -> None:
        """``reliable`` False: the user's corrections showed the colours are a weak guide here
        (``note`` says how; it joins the tooltip)."""
        self.n_slices, self.values, self.worst, self.reliable = int(n_slices), dict(values), worst, reliable
        self.setToolTip(TOOLTIP + (f"\n\nOn this object: {note}" if note else ""))
        self.update()

    def set_current(self, z: int | None) -> None:
        if z != self.current:
            self.current = z
            self.update()

    def slice_at(self, x: float) -> int | None:
        """Slice index under widget x coordinate (None when empty)."""
        if self.n_slices <= 0 or self.width() <= 0:
            return None
        return int(max(0, min(self.n_slices - 1, x * self.n_slices // max(1, self.width()))))

    def mousePressEvent(self, event):  # noqa: N802 (Qt API)
        pos = event.position().x() if hasattr(event, "position") else event.x()
        z = self.slice_at(pos)
        if z is not None:
            self.slice_clicked.emit(z)

    def paintEvent(self, event):  # noqa: N802 (Qt API)
        painter = QPainter(self)
        w, h = self.width(), self.height()
        painter.fillRect(0, 0, w, h, NO_OPINION)
        if self.n_slices > 0:
            cell = w / self.n_slices
            weak = self.reliable is False
            for z, v in self.values.items():
                if 0 <= z < self.n_slices:
                    color = confidence_color(v)
                    painter.fillRect(QRectF(z * cell, 0, max(cell, 1.0), h), faded(color) if weak else color)
            if self.worst is not None:
                painter.setPen(QPen(Qt.white, 2))
                x = (self.worst + 0.5) * cell
                painter.drawLine(int(x), 0, int(x), h)
            if self.current is not None:
                painter.setPen(QPen(Qt.black, 2))
                painter.drawRect(QRectF(self.current * cell, 1, max(cell, 2.0), h - 2))
            if weak:
                painter.setPen(QPen(Qt.white, 1))
                painter.drawText(QRectF(0, 0, w, h), int(Qt.AlignCenter), WEAK_LABEL)
        painter.end()
