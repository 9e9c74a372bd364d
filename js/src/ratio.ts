// Aspect-ratio picker: a radio group whose options show their shape. The ratios are Python's
// (`field_specs`); "Service default" and "Keep first image's" are the widget's own choices.
import type { Ctx } from "./context";
import { h, uid } from "./dom";
import { readImages, str } from "./protocol";

const BOX = 26; // px: the long side of a drawn shape

/** The "W:H" choices Python allows for the aspect ratio, in its order. */
export function ratioChoices(ctx: Ctx): string[] {
  return (ctx.spec("aspect_ratio")?.choices ?? []).filter((c) => /^\d+:\d+$/.test(c));
}

function shape(ratio: string): HTMLSpanElement {
  const [w = 1, hgt = 1] = ratio.split(":").map(Number);
  const width = w >= hgt ? BOX : Math.round((BOX * w) / hgt);
  const height = w >= hgt ? Math.round((BOX * hgt) / w) : BOX;
  return h("span", {
    class: "kw-shape",
    "aria-hidden": "true",
    style: `width:${width}px;height:${height}px`,
  });
}

export function ratioPicker(ctx: Ctx): HTMLElement {
  const name = uid("ratio");
  const legendId = uid("ratio-legend");
  const firstThumb = h("img", { alt: "", referrerpolicy: "no-referrer", draggable: "false" });
  const options: Array<[value: string, text: string, box: HTMLElement]> = [
    ["", "Service default", h("span", { class: "kw-shape kw-shape-any", "aria-hidden": "true" }, "auto")],
    [
      "first",
      "Keep first image's",
      h("span", { class: "kw-shape kw-shape-first", "aria-hidden": "true" }, firstThumb),
    ],
    ...ratioChoices(ctx).map((r): [string, string, HTMLElement] => [r, r, shape(r)]),
  ];
  const radios = new Map<string, HTMLInputElement>();
  const labels = options.map(([value, text, box]) => {
    const input = h("input", { type: "radio", name, value });
    radios.set(value, input);
    return h(
      "label",
      {
        class: "kw-ratio",
        title: value === "first" ? "The first image's shape (nearest allowed ratio)" : null,
      },
      input,
      box,
      h("span", {}, text),
    );
  });
  const fieldset = h(
    "fieldset",
    { class: "kw-ratios", role: "radiogroup", "aria-labelledby": legendId },
    h("legend", { id: legendId, class: "kw-h" }, ctx.label("aspect_ratio")),
    h("div", { class: "kw-ratio-grid" }, ...labels),
  );
  ctx.field("aspect_ratio", ctx.label("aspect_ratio"), fieldset);

  ctx.on(fieldset, "change", (ev) => {
    const t = ev.target;
    if (t instanceof HTMLInputElement && t.checked) ctx.save("aspect_ratio", t.value);
  });
  ctx.watch(["aspect_ratio"], () => {
    const value = str(ctx.get("aspect_ratio"));
    const radio = radios.get(value);
    if (radio) radio.checked = true;
    else for (const r of radios.values()) r.checked = false; // a value this front end does not know
  });
  ctx.watch(["images"], () => {
    const first = readImages(ctx.get("images"))[0];
    firstThumb.hidden = !first?.src;
    if (first?.src && firstThumb.getAttribute("src") !== first.src) firstThumb.src = first.src;
  });
  return fieldset;
}
