// Front end of kontext-widgets: an anywidget ESM module (see docs/widget-protocol.md).
//
// Bundled by `npm run build` (esbuild) into ../kontext_widgets/static/widget.js, which the
// Python widget loads as `_esm`; widget.css next to it is loaded as `_css`.
import type { Render } from "@anywidget/types";
import { actionBar } from "./actions";
import { Ctx } from "./context";
import { h } from "./dom";
import { bindText, labelled } from "./fields";
import { gallery } from "./gallery";
import { history } from "./history";
import { type ImageList, imageList } from "./images";
import { SUPPRESS, keepKeys } from "./keys";
import { hideSavedCopy, liveness, offlineBanner } from "./liveness";
import { type Traits, isHttpUrl } from "./protocol";
import { ratioPicker } from "./ratio";
import { seedControls } from "./seeds";
import { settings } from "./settings";
import { header, jobList } from "./status";
import { modeSwitch, sweepControls } from "./sweep";
import { Viewer } from "./viewer";

export type { Traits as WidgetModel };

const isEditable = (t: EventTarget | null): boolean =>
  t instanceof HTMLTextAreaElement ||
  (t instanceof HTMLInputElement && !["checkbox", "radio", "range", "button", "file"].includes(t.type));

/** Paste images anywhere in the widget; text pastes into text fields as usual. */
function pasteImages(ctx: Ctx, viewer: Viewer, images: ImageList): void {
  ctx.on<ClipboardEvent>(ctx.root, "paste", async (ev) => {
    const data = ev.clipboardData;
    if (!data || viewer.dialog.open) return;
    const types = Array.from(data.types);
    if (isEditable(ev.target) && types.includes("text/plain")) return;
    const files = Array.from(data.files).filter((f) => f.type.startsWith("image/"));
    if (files.length) {
      ev.preventDefault();
      await images.addFiles(files);
      return;
    }
    const text = data.getData("text/plain").trim();
    if (!isEditable(ev.target) && isHttpUrl(text)) {
      ev.preventDefault();
      ctx.send({ type: "add_url", url: text });
    }
  });
}

function promptBox(ctx: Ctx): { el: HTMLElement; flush: () => void } {
  const label = ctx.label("prompt");
  const [el, prompt] = labelled(
    label,
    h("textarea", {
      rows: 3,
      placeholder: "Describe the edit, e.g. “put the shoes on her”",
      class: "kw-prompt-box",
    }),
  );
  ctx.field("prompt", label, prompt);
  return { el, flush: bindText(ctx, prompt, "prompt") };
}

function build(ctx: Ctx): void {
  const viewer = new Viewer(ctx);
  const images = imageList(ctx);
  const seeds = seedControls(ctx);
  const sweep = sweepControls(ctx);
  const prompt = promptBox(ctx);
  const bar = actionBar(ctx, {
    flush: () => [prompt, seeds, sweep].forEach((part) => part.flush()),
    sweepPlan: sweep.plan,
    retry: sweep.retry,
    dialogOpen: () => viewer.dialog.open,
  });
  pasteImages(ctx, viewer, images);
  keepKeys(ctx);

  ctx.root.append(
    header(ctx),
    offlineBanner(ctx),
    modeSwitch(ctx),
    h(
      "div",
      { class: "kw-controls" },
      h("div", { class: "kw-col" }, prompt.el, images.el),
      h("div", { class: "kw-col" }, ratioPicker(ctx), seeds.el, settings(ctx)),
    ),
    sweep.panel,
    bar,
    sweep.progress,
    ctx.alert,
    jobList(ctx),
    history(ctx),
    gallery(ctx, viewer),
    viewer.dialog,
  );
  ctx.renderAlerts();
  hideSavedCopy(ctx);
  liveness(ctx);
}

const render: Render<Traits> = ({ model, el }) => {
  const root = h("div", { class: "kontext-widget" });
  // JupyterLab: keep notebook shortcuts (a, b, d d, Ctrl+Enter, Esc…) away from our controls.
  for (const a of SUPPRESS) root.setAttribute(a, "true");
  el.replaceChildren(root);
  let ctx: Ctx | null = null;
  try {
    ctx = new Ctx(model, root);
    build(ctx);
  } catch (err) {
    const message = `the widget could not be drawn: ${err instanceof Error ? err.message : String(err)}`;
    console.error("kontext-widgets:", err);
    ctx?.scope.dispose();
    ctx = null;
    root.replaceChildren(h("p", { class: "kw-alert", role: "alert" }, `Front end error: ${message}`));
    try {
      model.send({ type: "frontend_error", message });
    } catch {
      /* nothing more to do */
    }
  }
  return () => {
    ctx?.scope.dispose();
    root.remove();
  };
};

export default { render };
