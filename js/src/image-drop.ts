// Drag and drop on the image list: an item dragged onto another moves there; files or a
// URL dropped from outside are added.
import type { Ctx } from "./context";
import type { Adders } from "./image-add";
import type { ImageDom, ImageState } from "./image-state";

const DRAG_TYPE = "application/x-kontext-image";

const hasType = (ev: DragEvent, type: string): boolean =>
  Array.from(ev.dataTransfer?.types ?? []).includes(type);
const liOf = (ev: Event): HTMLElement | null =>
  ev.target instanceof Element ? ev.target.closest<HTMLElement>("li.kw-img") : null;

/** Reordering by dragging an item; returns the id being dragged (or ""). */
function dragItems(ctx: Ctx, list: HTMLElement): () => string {
  let dragId = "";
  ctx.on<DragEvent>(list, "dragstart", (ev) => {
    const li = liOf(ev);
    if (!li || !ev.dataTransfer) return;
    dragId = li.dataset.id ?? "";
    ev.dataTransfer.setData(DRAG_TYPE, dragId);
    ev.dataTransfer.effectAllowed = "move";
    li.classList.add("kw-dragging");
  });
  ctx.on<DragEvent>(list, "dragend", () => {
    dragId = "";
    for (const li of list.querySelectorAll(".kw-dragging, .kw-dropbefore"))
      li.classList.remove("kw-dragging", "kw-dropbefore");
  });
  return () => dragId;
}

type DropHandler = (ev: DragEvent) => Promise<void>;

function onDrop(ctx: Ctx, state: ImageState, dom: ImageDom, add: Adders): DropHandler {
  return async (ev: DragEvent): Promise<void> => {
    dom.zone.classList.remove("kw-dropping");
    const dt = ev.dataTransfer;
    if (!dt) return;
    ev.preventDefault();
    const moved = dt.getData(DRAG_TYPE);
    if (moved) {
      const target = liOf(ev);
      const to = target ? state.index(target.dataset.id ?? "") : state.items.length - 1;
      const from = state.index(moved);
      if (from >= 0 && to >= 0 && from !== to) ctx.send({ type: "move_image", id: moved, to });
      return;
    }
    const files = Array.from(dt.files);
    if (files.length) return add.addFiles(files);
    const lines = dt.getData("text/uri-list").split(/\r?\n/);
    const url = (lines.find((l) => l && !l.startsWith("#")) ?? "").trim();
    if (url) {
      dom.urlBox.value = url;
      add.submitUrl();
    }
  };
}

export function dropZone(ctx: Ctx, state: ImageState, dom: ImageDom, add: Adders): void {
  const { list, zone } = dom;
  const dragging = dragItems(ctx, list);
  ctx.on<DragEvent>(zone, "dragover", (ev) => {
    const files = hasType(ev, "Files") || hasType(ev, "text/uri-list");
    if (!files && !(dragging() && hasType(ev, DRAG_TYPE))) return;
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = files ? "copy" : "move";
    zone.classList.add("kw-dropping");
    for (const li of list.querySelectorAll(".kw-dropbefore")) li.classList.remove("kw-dropbefore");
    if (!files) liOf(ev)?.classList.add("kw-dropbefore");
  });
  ctx.on<DragEvent>(zone, "dragleave", (ev) => {
    if (!(ev.relatedTarget instanceof Node && zone.contains(ev.relatedTarget)))
      zone.classList.remove("kw-dropping");
  });
  ctx.on<DragEvent>(zone, "drop", onDrop(ctx, state, dom, add));
}
