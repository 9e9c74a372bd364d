// The input image list: thumbnails, reorder (buttons or drag), remove, add by URL, file
// picker, drag and drop, clipboard paste. Python owns the list (`images`); we only send
// commands and refuse the obviously wrong before sending.
import type { Ctx } from "./context";
import { button, h, keepFocus, setText, uid } from "./dom";
import { FULL_REASON, type ImageItem, MAX_IMAGES, MAX_UPLOAD_BYTES, isHttpUrl, readImages } from "./protocol";

const DRAG_TYPE = "application/x-kontext-image";
const KIND_TEXT: Record<ImageItem["kind"], string> = { url: "URL", file: "file", output: "output" };

export interface ImageList {
  el: HTMLElement;
  addFiles(files: File[]): Promise<void>;
  count(): number;
}

export function imageList(ctx: Ctx): ImageList {
  const urlId = uid("url");
  const fullId = uid("full");
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
  const full = h("p", { class: "kw-hint kw-full", id: fullId }, FULL_REASON);
  const el = h(
    "section",
    { class: "kw-images", "aria-labelledby": headId },
    h("h3", { class: "kw-h", id: headId }, "Images ", count),
    zone,
    h(
      "div",
      { class: "kw-row" },
      h("label", { for: urlId }, "Image URL"),
      urlBox,
      addUrl,
      pickFiles,
      fileInput,
    ),
    full,
  );
  ctx.field("images", zone, urlBox);
  ctx.field("url", urlBox);

  let images: ImageItem[] = [];
  const isFull = (): boolean => images.length >= MAX_IMAGES;

  function item(img: ImageItem, i: number): HTMLLIElement {
    const thumb = h("img", {
      src: img.src || null,
      alt: "",
      loading: "lazy",
      decoding: "async",
      referrerpolicy: "no-referrer",
      draggable: "false",
    });
    const up = button("▲", {
      "aria-label": `Move ${img.name} up`,
      title: "Move up",
      "data-fk": `up:${img.id}`,
    });
    const down = button("▼", {
      "aria-label": `Move ${img.name} down`,
      title: "Move down",
      "data-fk": `down:${img.id}`,
    });
    const remove = button("✕", {
      "aria-label": `Remove ${img.name}`,
      title: "Remove",
      "data-fk": `rm:${img.id}`,
      class: "kw-danger",
    });
    up.disabled = i === 0;
    down.disabled = i === images.length - 1;
    const li = h(
      "li",
      { class: "kw-img", draggable: "true", "data-id": img.id, title: img.name },
      h("span", { class: "kw-thumb" }, thumb),
      h("span", { class: "kw-imgname" }, h("span", { class: "kw-pos" }, `${i + 1}. `), img.name),
      h("span", { class: "kw-kind" }, KIND_TEXT[img.kind]),
      h("span", { class: "kw-imgbtns" }, up, down, remove),
    );
    return li;
  }

  // One delegated listener for every item's buttons (items are rebuilt on each change).
  ctx.on<MouseEvent>(list, "click", (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>("button[data-fk]") : null;
    if (!b || b.disabled) return;
    const [act, ...rest] = (b.dataset.fk ?? "").split(":");
    const id = rest.join(":");
    const i = images.findIndex((img) => img.id === id);
    if (i < 0) return;
    if (act === "rm") ctx.send({ type: "remove_image", id });
    else ctx.send({ type: "move_image", id, to: act === "up" ? i - 1 : i + 1 });
  });

  let sig = "";
  function render(): void {
    const before = images;
    images = readImages(ctx.get("images"));
    const next = images
      .map((img) => `${img.id}|${img.name}|${img.src.length}|${img.src.slice(-24)}`)
      .join("\n");
    if (sig !== next) {
      sig = next;
      // After a move or a removal, keep the keyboard where the user was.
      keepFocus(
        list,
        () => list.replaceChildren(...images.map(item)),
        (key) => {
          const id = key.slice(key.indexOf(":") + 1);
          const now = images.findIndex((img) => img.id === id);
          const other = list.querySelector<HTMLButtonElement>(
            `[data-fk="${key.startsWith("up") ? "down" : "up"}:${CSS.escape(id)}"]`,
          );
          if (now >= 0 && other && !other.disabled) return other;
          const was = before.findIndex((img) => img.id === id);
          const near = images[Math.min(Math.max(was, 0), images.length - 1)];
          return near ? list.querySelector<HTMLElement>(`[data-fk="rm:${CSS.escape(near.id)}"]`) : urlBox;
        },
      );
    }
    empty.hidden = images.length > 0;
    setText(count, `${images.length} of ${MAX_IMAGES}`);
    const f = isFull();
    full.hidden = !f;
    for (const b of [addUrl, pickFiles]) {
      b.disabled = f;
      if (f) b.setAttribute("aria-describedby", fullId);
      else b.removeAttribute("aria-describedby");
    }
    el.classList.toggle("kw-is-full", f);
  }
  ctx.watch(["images"], render);

  // ---- add by URL
  function submitUrl(): void {
    const url = urlBox.value.trim();
    if (isFull()) return ctx.say(FULL_REASON, "url");
    if (!url) return ctx.say("Image URL: enter an http(s) URL first", "url");
    if (!isHttpUrl(url)) {
      return ctx.say(
        `Image URL: only http:// and https:// URLs can be added, not “${url.slice(0, 80)}”`,
        "url",
      );
    }
    ctx.send({ type: "add_url", url });
    urlBox.value = "";
  }
  ctx.on(addUrl, "click", submitUrl);
  ctx.on<KeyboardEvent>(urlBox, "keydown", (ev) => {
    if (ev.key === "Enter" && !ev.isComposing && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      submitUrl();
    }
  });

  // ---- files: picker, drop, paste
  async function addFiles(files: File[]): Promise<void> {
    if (!files.length) return;
    const reasons: string[] = [];
    const ok: File[] = [];
    for (const f of files) {
      if (f.type && !f.type.startsWith("image/")) reasons.push(`${f.name} is not an image (${f.type})`);
      else if (f.size > MAX_UPLOAD_BYTES) reasons.push(`${f.name} is larger than 20 MB`);
      else ok.push(f);
    }
    const room = Math.max(0, MAX_IMAGES - images.length);
    const skipped = ok.splice(room);
    if (skipped.length) reasons.push(`${FULL_REASON} (not added: ${skipped.map((f) => f.name).join(", ")})`);
    if (ok.length) {
      const buffers = await Promise.all(ok.map((f) => f.arrayBuffer()));
      if (ctx.scope.disposed) return;
      ctx.send(
        {
          type: "add_files",
          names: ok.map(
            (f, i) => f.name || `pasted-${i + 1}.${(f.type.split("/")[1] ?? "png").replace(/\W.*$/, "")}`,
          ),
        },
        buffers,
      );
    }
    if (reasons.length) ctx.say(reasons.join("; "), "images");
  }

  ctx.on(pickFiles, "click", () => {
    if (isFull()) return ctx.say(FULL_REASON, "images");
    fileInput.click();
    return undefined;
  });
  ctx.on(fileInput, "change", async () => {
    const files = Array.from(fileInput.files ?? []);
    fileInput.value = "";
    await addFiles(files);
  });

  let dragId = "";
  const hasType = (ev: DragEvent, type: string): boolean =>
    Array.from(ev.dataTransfer?.types ?? []).includes(type);
  const liOf = (ev: Event): HTMLElement | null =>
    ev.target instanceof Element ? ev.target.closest<HTMLElement>("li.kw-img") : null;

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
  ctx.on<DragEvent>(zone, "dragover", (ev) => {
    const files = hasType(ev, "Files") || hasType(ev, "text/uri-list");
    if (!files && !(dragId && hasType(ev, DRAG_TYPE))) return;
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
  ctx.on<DragEvent>(zone, "drop", async (ev) => {
    zone.classList.remove("kw-dropping");
    const dt = ev.dataTransfer;
    if (!dt) return;
    ev.preventDefault();
    const moved = dt.getData(DRAG_TYPE);
    if (moved) {
      const target = liOf(ev);
      const to = target ? images.findIndex((img) => img.id === target.dataset.id) : images.length - 1;
      const from = images.findIndex((img) => img.id === moved);
      if (from >= 0 && to >= 0 && from !== to) ctx.send({ type: "move_image", id: moved, to });
      return;
    }
    const files = Array.from(dt.files);
    if (files.length) return addFiles(files);
    const url = (
      dt
        .getData("text/uri-list")
        .split(/\r?\n/)
        .find((l) => l && !l.startsWith("#")) ?? ""
    ).trim();
    if (url) {
      urlBox.value = url;
      submitUrl();
    }
    return undefined;
  });

  return { el, addFiles, count: () => images.length };
}
