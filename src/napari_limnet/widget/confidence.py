"""A strip that shows the current object's per-slice confidence along z; click it to go there.

One cell per slice, left = slice 0: green = confident, red = not, grey = no opinion (the object
is not there and nothing suggests it should be). The slice on screen is outlined, and the slice
that most needs the user (:meth:`LimNetController.least_confident_slice`) gets a marker.
Painting reads a dict prepared after each round, so it never slows a round down.
"""

from __future__ import annotations

from qtpy.QtCore import QRectF, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

NO_OPINION = QColor(70, 70, 70)


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
        self.setMinimumHeight(16)
        self.setMaximumHeight(22)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setToolTip("Confidence per slice (left = slice 0): green = sure, red = check it. Click to go there.")

    def set_data(self, n_slices: int, values: dict[int, float], worst: int | None) -> None:
        self.n_slices, self.values, self.worst = int(n_slices), dict(values), worst
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
            for z, v in self.values.items():
                if 0 <= z < self.n_slices:
                    painter.fillRect(QRectF(z * cell, 0, max(cell, 1.0), h), confidence_color(v))
            if self.worst is not None:
                painter.setPen(QPen(Qt.white, 2))
                x = (self.worst + 0.5) * cell
                painter.drawLine(int(x), 0, int(x), h)
            if self.current is not None:
                painter.setPen(QPen(Qt.black, 2))
                painter.drawRect(QRectF(self.current * cell, 1, max(cell, 2.0), h - 2))
        painter.end()
