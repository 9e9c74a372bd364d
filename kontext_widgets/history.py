"""The edit history: each output put back as an input ("Use as input"), oldest first.

A step remembers what made it (prompt, seed) and what it was made from
(``parents``: the input names, or the keys of earlier outputs), so a chain of
successive edits can be read back and shown as a strip (:meth:`History.strip` gives
the strip's tiles as plain data; ``kontext_widgets.display.show_strip`` shows them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .inputs import InputImage

__all__ = ["History", "HistoryStep", "StripTile"]


@dataclass(frozen=True)
class StripTile:
    """One tile of the history strip: a thumbnail (``data:`` URI or http(s) URL), label, note."""

    src: str
    label: str
    note: str = ""


@dataclass(frozen=True)
class HistoryStep:
    """One output used as an input: its key, what made it, and from what.

    >>> step = HistoryStep(key="a1:0", prompt="make it night", seed=7,
    ...                    parents=("person.png",), label="step 1 · seed 7")
    >>> step.trait()["parents"], step.trait()["seed"]
    (['person.png'], 7)
    """

    key: str
    prompt: str
    seed: int | None
    parents: tuple[str, ...]
    label: str
    #: a small JPEG data URI of the output
    thumb: str = field(default="", repr=False)
    #: the inputs it was made from, with their thumbnails (for the strip)
    inputs: tuple[InputImage, ...] = field(default=(), repr=False, compare=False)

    def trait(self) -> dict[str, object]:
        """The entry of the ``history`` trait."""
        return {
            "key": self.key,
            "label": self.label,
            "thumb": self.thumb,
            "prompt": self.prompt,
            "seed": self.seed,
            "parents": list(self.parents),
        }


class History:
    """The steps in order; an output is recorded once even if used as an input again.

    >>> h = History()
    >>> h.record(key="a1:0", prompt="make it night", seed=7, parents=["person.png"],
    ...          label="seed 7").label
    'step 1 · seed 7'
    >>> h.record(key="a1:0", prompt="make it night", seed=7, parents=[], label="seed 7").label
    'step 1 · seed 7'
    >>> len(h)
    1
    """

    def __init__(self) -> None:
        self._steps: list[HistoryStep] = []

    def __iter__(self) -> Iterator[HistoryStep]:
        return iter(tuple(self._steps))

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def steps(self) -> list[HistoryStep]:
        return list(self._steps)

    def record(
        self,
        *,
        key: str,
        prompt: str,
        seed: int | None,
        parents: Sequence[str],
        label: str,
        thumb: str = "",
        inputs: Sequence[InputImage] = (),
    ) -> HistoryStep:
        for step in self._steps:
            if step.key == key:
                return step
        step = HistoryStep(
            key=key,
            prompt=prompt,
            seed=seed,
            parents=tuple(parents),
            label=f"step {len(self._steps) + 1} · {label}",
            thumb=thumb,
            inputs=tuple(inputs),
        )
        self._steps.append(step)
        return step

    def trait(self) -> list[dict[str, object]]:
        return [step.trait() for step in self._steps]

    def strip(self) -> list[StripTile]:
        """The tiles of the history strip: the first step's own inputs, then every step.

        Inputs that were not outputs of an earlier step (the starting pictures, and
        any picture brought in later) are named in each step's note.
        """
        if not self._steps:
            return []
        keys = {step.key for step in self._steps}
        items = [
            StripTile(src=_src(i), label=f"input · {i.name}", note="")
            for i in self._steps[0].inputs
            if i.key not in keys and _src(i)
        ]
        for step in self._steps:
            extra = [i.name for i in step.inputs if i.key is None or i.key not in keys]
            from_text = (
                f" (with {', '.join(extra)})" if extra and step is not self._steps[0] else ""
            )
            items.append(StripTile(src=step.thumb, label=step.label, note=step.prompt + from_text))
        return items


def _src(image: InputImage) -> str:
    return image.source if isinstance(image.source, str) else image.thumb
