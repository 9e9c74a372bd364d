// The thumbnails of the image list: one item per image with move and remove buttons (one
// delegated listener), rebuilt when Python's list changes, keeping the keyboard in place.
import type { Ctx } from "./context";
import { button, h, keepFocus } from "./dom";
import type { ImageDom, ImageState } from "./image-state";
import type { ImageItem } from "./protocol";

const KIND_TEXT: Record<ImageItem["kind"], string> = { url: "URL", file: "file", output: "output" };

function item(img: ImageItem, i: number, last: number): HTMLLIElement {
  const thumb = h("img", {
    src: img.src || null,
    alt: "",
    loading: "lazy",
    decoding: "async",
    referrerpolicy: "no-referrer",
    draggable: "false",
  });
  const act = (text: string, name: string, title: string, fk: string): HTMLButtonElement =>
    button(text, { "aria-label": name, title, "data-fk": `${fk}:${img.id}` });
  const up = act("▲", `Move ${img.name} up`, "Move up", "up");
  const down = act("▼", `Move ${img.name} down`, "Move down", "down");
  const remove = act("✕", `Remove ${img.name}`, "Remove", "rm");
  remove.classList.add("kw-danger");
  up.disabled = i === 0;
  down.disabled = i === last;
  return h(
    "li",
    { class: "kw-img", draggable: "true", "data-id": img.id, title: img.name },
    h("span", { class: "kw-thumb" }, thumb),
    h("span", { class: "kw-imgname" }, h("span", { class: "kw-pos" }, `${i + 1}. `), img.name),
    h("span", { class: "kw-kind" }, KIND_TEXT[img.kind]),
    h("span", { class: "kw-imgbtns" }, up, down, remove),
  );
}

/** Send move/remove for a click on an item's button (items are rebuilt on each change). */
export function itemClicks(ctx: Ctx, state: ImageState, list: HTMLElement): void {
  ctx.on<MouseEvent>(list, "click", (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>("button[data-fk]") : null;
    if (!b || b.disabled) return;
    const [act, ...rest] = (b.dataset.fk ?? "").split(":");
    const id = rest.join(":");
    const i = state.index(id);
    if (i < 0) return;
    if (act === "rm") ctx.send({ type: "remove_image", id });
    else ctx.send({ type: "move_image", id, to: act === "up" ? i - 1 : i + 1 });
  });
}

/**
 * Rebuild the items for `state.items` (was `before`). After a move the focus stays on the
 * moved image (the other arrow when this one is now disabled); after a removal it goes to
 * the nearest image's Remove, or the URL box when the list is empty.
 */
export function renderItems(dom: ImageDom, state: ImageState, before: ImageItem[]): void {
  const { list, urlBox } = dom;
  const images = state.items;
  keepFocus(
    list,
    () => list.replaceChildren(...images.map((img, i) => item(img, i, images.length - 1))),
    (key) => {
      const id = key.slice(key.indexOf(":") + 1);
      const other = list.querySelector<HTMLButtonElement>(
        `[data-fk="${key.startsWith("up") ? "down" : "up"}:${CSS.escape(id)}"]`,
      );
      if (state.index(id) >= 0 && other && !other.disabled) return other;
      const was = before.findIndex((img) => img.id === id);
      const near = images[Math.min(Math.max(was, 0), images.length - 1)];
      return near ? list.querySelector<HTMLElement>(`[data-fk="rm:${CSS.escape(near.id)}"]`) : urlBox;
    },
  );
}
