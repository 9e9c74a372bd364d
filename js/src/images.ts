// The input image list: thumbnails, reorder (buttons or drag), remove, add by URL, file
// picker, drag and drop, clipboard paste. Python owns the list (`images`) and its limits
// (`field_specs`); we only send commands and refuse the obviously wrong before sending.
import type { Ctx } from "./context";
import { button, h, setText, uid } from "./dom";
import { adders } from "./image-add";
import { dropZone } from "./image-drop";
import { itemClicks, renderItems } from "./image-items";
import { type ImageDom, ImageState } from "./image-state";
import { readImages } from "./protocol";

export interface ImageList {
  el: HTMLElement;
  addFiles(files: File[]): Promise<void>;
  count(): number;
}

function skeleton(ctx: Ctx, state: ImageState): ImageDom {
  const urlId = uid("url");
  const headId = uid("imgs");
  const list = h("ol", { class: "kw-imglist", "aria-labelledby": headId });
  const empty = h(
    "p",
    { class: "kw-hint kw-empty" },
    "No images yet: add a URL, pick files, drop or paste images here.",
  );
  const zone = h("div", { class: "kw-dropzone" }, list, empty);
  const count = h("span", { class: "kw-count" });
  const urlBox = h("input", {
    id: urlId,
    type: "url",
    class: "kw-grow",
    placeholder: "https://…",
    autocomplete: "off",
    spellcheck: "false",
  });
  const addUrl = button("Add URL");
  const pickFiles = button("Add files");
  const fileInput = h("input", {
    type: "file",
    multiple: true,
    accept: "image/*",
    "aria-label": "Image files",
    hidden: true,
    tabindex: -1,
  });
  const full = h("p", { class: "kw-hint kw-full", id: uid("full") }, state.fullReason());
  const label = h("label", { for: urlId }, "Image URL");
  const row = h("div", { class: "kw-row" }, label, urlBox, addUrl, pickFiles, fileInput);
  const el = h(
    "section",
    { class: "kw-images", "aria-labelledby": headId },
    h("h3", { class: "kw-h", id: headId }, `${ctx.label("images")} `, count),
    zone,
    row,
    full,
  );
  return { el, list, zone, empty, count, urlBox, addUrl, pickFiles, fileInput, full };
}

/** The count, the "full" note and the add buttons' state for the current list. */
function showRoom(dom: ImageDom, state: ImageState): void {
  const n = state.items.length;
  dom.empty.hidden = n > 0;
  setText(dom.count, state.max === null ? `${n}` : `${n} of ${state.max}`);
  const full = state.isFull();
  dom.full.hidden = !full;
  for (const b of [dom.addUrl, dom.pickFiles]) {
    b.disabled = full;
    if (full) b.setAttribute("aria-describedby", dom.full.id);
    else b.removeAttribute("aria-describedby");
  }
  dom.el.classList.toggle("kw-is-full", full);
}

export function imageList(ctx: Ctx): ImageList {
  const state = new ImageState(ctx);
  const dom = skeleton(ctx, state);
  ctx.field("images", ctx.label("images"), dom.zone, dom.urlBox);
  ctx.field("url", "Image URL", dom.urlBox);
  itemClicks(ctx, state, dom.list);

  let sig = "";
  ctx.watch(["images"], () => {
    const before = state.items;
    state.items = readImages(ctx.get("images"));
    const next = state.items
      .map((img) => `${img.id}|${img.name}|${img.src.length}|${img.src.slice(-24)}`)
      .join("\n");
    if (sig !== next) {
      sig = next;
      renderItems(dom, state, before);
    }
    showRoom(dom, state);
  });

  const add = adders(ctx, state, dom);
  dropZone(ctx, state, dom, add);
  return { el: dom.el, addFiles: add.addFiles, count: () => state.items.length };
}
