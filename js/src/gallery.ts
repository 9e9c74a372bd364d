// The gallery: one row per run (newest last), Python's escaped ipyplot HTML plus our
// per-output actions, placed next to each tile's `[data-kw-output="KEY"]` element.
import type { Ctx } from "./context";
import { button, h, keepFocus, setText } from "./dom";
import { ImageState } from "./image-state";
import { type Row, type RowOutput, readImages, readRows } from "./protocol";
import type { Viewer } from "./viewer";

type Act = "open" | "compare" | "download" | "copy" | "use";

// "run 2" / "sweep 1" from a row's title ("SIMULATED (…) · Run 2 · …", "Sweep 1: …"): the
// buttons of two runs' "seed 7" must not share a name.
const runName = (title: string): string =>
  (/(?:^|· )((?:Run|Sweep) \d+)(?= ·|:|$)/.exec(title)?.[1] ?? "").toLowerCase();

function actions(out: RowOutput, withLabel: boolean, run: string): HTMLElement {
  const b = (act: Act, text: string, name: string, title: string): HTMLButtonElement =>
    button(text, {
      "aria-label": name,
      title,
      "data-act": act,
      "data-key": out.key,
      "data-fk": `${act}:${out.key}`,
    });
  const L = run ? `${out.label} of ${run}` : out.label;
  return h(
    "div",
    { class: "kw-actions", role: "group", "aria-label": `Actions for ${L}` },
    // No <span>s: ipyplot's CSS stretches every span inside a tile over the whole tile.
    withLabel ? h("b", { class: "kw-actlabel" }, out.label) : null,
    b("open", "Open", `Open ${L} full size`, "Open full size"),
    b("compare", "Compare", `Compare ${L} with first input`, "Compare with the first input image"),
    b("download", "Download", `Download ${L}`, "Download the full-size image"),
    b("copy", "Copy", `Copy Python call for ${L}`, "Copy the Python call that makes this image"),
    b("use", "Use as input", `Use ${L} as input`, "Append it to the input images"),
    h("small", { class: "kw-note", "aria-live": "polite" }),
  );
}

function rowElement(row: Row): HTMLElement {
  const body = h("div", { class: "kw-rowhtml" });
  body.innerHTML = row.html; // made and escaped by Python (gallery.py); scripts in it do not run
  const fallback = h("div", { class: "kw-fallback" });
  for (const out of row.outputs) {
    if (out.state !== "done") continue;
    const anchor = body.querySelector(`[data-kw-output="${CSS.escape(out.key)}"]`);
    // Next to the marker, but outside the tile's label heading (buttons inside a heading
    // would become part of it for screen readers).
    const run = runName(row.title);
    if (anchor) (anchor.closest("h1,h2,h3,h4,h5,h6") ?? anchor).after(actions(out, false, run));
    else fallback.append(actions(out, true, run));
  }
  fallback.hidden = !fallback.childElementCount;
  return h(
    "article",
    { class: "kw-result", "aria-label": row.title || "Result" },
    // gallery.py's HTML carries its own heading (.kw-title); show the title only when it does not.
    row.title && !body.querySelector(".kw-title") ? h("h4", { class: "kw-rowtitle" }, row.title) : null,
    body,
    fallback,
  );
}

export function gallery(ctx: Ctx, viewer: Viewer): HTMLElement {
  const list = h("div", { class: "kw-rows" });
  const older = h("p", { class: "kw-older", role: "note" });
  const olderText = h("span");
  const showOlder = button("Show older runs");
  older.append(olderText, " ", showOlder);
  ctx.on(showOlder, "click", () => ctx.send({ type: "show_older" }));
  ctx.watch(["older_runs", "rows"], () => {
    const count = Number(ctx.get("older_runs") ?? 0);
    const shown = readRows(ctx.get("rows")).length;
    older.hidden = !(count > 0);
    setText(
      olderText,
      `Showing the latest ${shown} run${shown === 1 ? "" : "s"}; ${count} older run${count === 1 ? " is" : "s are"} kept.`,
    );
  });
  const el = h("section", { class: "kw-results", "aria-label": "Results" }, older, list);
  const built = new Map<string, { sig: string; el: HTMLElement }>();
  const labels = new Map<string, string>();

  ctx.watch(["rows"], () => {
    const rows = readRows(ctx.get("rows"));
    labels.clear();
    const els = rows.map((row, i) => {
      for (const o of row.outputs) labels.set(o.key, o.label);
      const id = row.id || `#${i}`;
      const sig = JSON.stringify([row.title, row.html, row.outputs]);
      let entry = built.get(id);
      if (!entry || entry.sig !== sig) {
        entry = { sig, el: rowElement(row) };
        built.set(id, entry);
      }
      return entry.el;
    });
    const keep = new Set(els);
    for (const [id, entry] of built) if (!keep.has(entry.el)) built.delete(id);
    const same = els.length === list.children.length && els.every((e, i) => list.children[i] === e);
    if (!same) keepFocus(list, () => list.replaceChildren(...els));
    el.hidden = rows.length === 0 && !(Number(ctx.get("older_runs") ?? 0) > 0);
  });

  ctx.on<MouseEvent>(list, "click", async (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>("button[data-act]") : null;
    if (!b || !list.contains(b)) return;
    const key = b.dataset.key ?? "";
    const label = labels.get(key) ?? key;
    const note = b.parentElement?.querySelector<HTMLElement>(".kw-note") ?? h("span");
    switch (b.dataset.act as Act) {
      case "open":
        return viewer.openFull(key, label);
      case "compare":
        if (!readImages(ctx.get("images")).length)
          return ctx.say("Compare: there is no input image to compare with");
        return viewer.openCompare(key, label);
      case "download":
        return viewer.download(key, label, note);
      case "copy":
        return viewer.copy(key, label, note);
      case "use": {
        const room = new ImageState(ctx, readImages(ctx.get("images")));
        if (room.isFull()) return ctx.say(room.fullReason(), "images");
        return ctx.send({ type: "use_as_input", key });
      }
    }
  });
  return el;
}
