"""The widget's input list and outputs from Python: add, remove, move, use an output as input.

A mixin of :class:`~kontext_widgets.widget.KontextWidget` (its methods use only what
:class:`~.host.Host` declares), kept apart so the class stays small.
"""

from __future__ import annotations

from ..display import show_strip
from ..history import HistoryStep
from ..prediction import OutputImage, Prediction
from ..request import ImageInput
from .host import Host, touch
from .outputs import image_name
from .snippet import python_call

__all__ = ["Editing"]


def _image_id(host: Host, image: str) -> str:
    for item in host._inputs:
        if image in (item.id, item.name):
            return item.id
    return image  # InputList.find() explains what ids there are


class Editing:
    """Input-list and output methods of the widget."""

    def add_image(self: Host, image: ImageInput, *, name: str | None = None) -> str:
        """Append an input image (URL, path, bytes or PIL image); return its id.

        >>> from kontext_widgets import KontextWidget, samples
        >>> w = KontextWidget()
        >>> w.add_image(samples.path("person")), w.images[0]["kind"]
        ('img1', 'file')
        """
        touch(self)
        item = self._inputs.add(image, name=name)
        self.images = self._inputs.trait()
        return item.id

    def remove_image(self: Host, image: str) -> None:
        """Remove an input image by id or name.

        >>> from kontext_widgets import KontextWidget
        >>> w = KontextWidget(images=["https://example.com/a.png"])
        >>> w.remove_image("a.png"); w.images
        []
        """
        touch(self)
        self._inputs.remove(_image_id(self, image))
        self.images = self._inputs.trait()

    def move_image(self: Host, image: str, to: int) -> None:
        """Move an input image (by id or name) to position ``to`` (0 is first).

        >>> from kontext_widgets import KontextWidget
        >>> w = KontextWidget(images=["https://example.com/a.png", "https://example.com/b.png"])
        >>> w.move_image("b.png", 0); [i["name"] for i in w.images]
        ['b.png', 'a.png']
        """
        touch(self)
        self._inputs.move(_image_id(self, image), to)
        self.images = self._inputs.trait()

    def clear_images(self: Host) -> None:
        """Remove every input image.

        >>> from kontext_widgets import KontextWidget
        >>> w = KontextWidget(images=["https://example.com/a.png"])
        >>> w.clear_images(); w.images
        []
        """
        touch(self)
        self._inputs.clear()
        self.images = self._inputs.trait()

    def use_as_input(
        self: Host, output: Prediction | str, *, index: int = 0, replace: bool = False
    ) -> HistoryStep:
        """Put an output back into the input images and record the step in the history.

        ``output`` is a :class:`Prediction` (its image ``index``) or an output key
        (``"<prediction id>:<index>"``, as the front end sends). ``replace=True``
        makes it the only input (successive edits of one picture). Raises
        :class:`InvalidRequestError` when it is unknown or five images are there.

        >>> import asyncio, tempfile
        >>> from kontext_widgets import KontextWidget, samples
        >>> async def main() -> list[str]:
        ...     w = KontextWidget(images=[samples.path("person")], seeds=1,
        ...                       store=tempfile.mkdtemp())
        ...     try:
        ...         [made] = await w.generate(prompt="give her a red hat")
        ...     finally:
        ...         await w.aclose()
        ...     step = w.use_as_input(made, replace=True)
        ...     return [step.label, step.parents[0], w.images[0]["kind"]]
        >>> asyncio.run(main())
        ['step 1 · seed 1', 'person.png', 'output']
        """
        touch(self)
        record = self._outputs.record(output, index)
        thumb = self._outputs.thumb(record)
        inputs = self._inputs.copy()  # changed only if the output is accepted
        if replace:
            inputs.clear()
        inputs.add_output(record.image.data, image_name(record), record.key, thumb)
        self._inputs = inputs
        request = record.prediction.request
        step = self._history.record(
            key=record.key,
            prompt=request.prompt if request else "",
            seed=request.seed if request else None,
            parents=[i.ref for i in record.inputs],
            label=record.label,
            thumb=thumb,
            inputs=record.inputs,
        )
        with self.hold_sync():
            self.images = self._inputs.trait()
            self.history = self._history.steps
        return step

    def output(self: Host, key: Prediction | str) -> OutputImage:
        """The full-size output image with this key (bytes, URL, ``save(path)``).

        >>> from kontext_widgets import KontextWidget
        >>> KontextWidget().output("nope:0")
        Traceback (most recent call last):
        ...
        kontext_widgets.errors.InvalidRequestError: key: 'nope:0' is not allowed; ...
        """
        return self._outputs.record(key, 0).image

    def code_for(self: Host, key: Prediction | str) -> str:
        """The Python call that reproduces an output (what "Copy Python call" copies).

        ``key`` is an output key or a :class:`Prediction` this widget made. Never
        contains the API key: ``kw.Client()`` reads it from the environment. Local
        images appear as their paths (or names, with a comment).

        >>> import asyncio, tempfile
        >>> from kontext_widgets import KontextWidget, samples
        >>> async def main() -> str:
        ...     w = KontextWidget(prompt="a red hat", images=[samples.path("person")], seeds=5,
        ...                       store=tempfile.mkdtemp())
        ...     try:
        ...         [made] = await w.generate()
        ...     finally:
        ...         await w.aclose()
        ...     return w.code_for(made)
        >>> print(asyncio.run(main()))  # doctest: +ELLIPSIS
        import kontext_widgets as kw
        ...
        async with kw.Client() as client:
            prediction = await client.run(
                prompt='a red hat',
                images=[
                    '...person.png',  # a local file
                ],
                seed=5,
                guidance_scale=3.5,
            )
        kw.show(prediction)
        """
        return python_call(self._outputs.record(key, 0))

    def show_history(self: Host) -> None:
        """Show the edit history inline: the starting inputs, then each step.

        >>> from kontext_widgets import KontextWidget
        >>> KontextWidget().show_history()
        No edit has been used as an input yet.
        """
        items = self._history.strip()
        if not items:
            print("No edit has been used as an input yet.")
            return
        show_strip(items, title="Edit history, oldest first")
