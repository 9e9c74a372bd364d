// Front end of kontext-widgets: an anywidget ESM module (see docs/widget-protocol.md).
//
// Bundled by `npm run build` (esbuild) into ../kontext_widgets/static/widget.js, which the
// Python widget loads as `_esm`; widget.css next to it is loaded as `_css`.
import type { Render } from "@anywidget/types";
import { Ctx } from "./context";
import { button, h, uid } from "./dom";
import { bindText, labelled } from "./fields";
import { gallery } from "./gallery";
import { history } from "./history";
import { imageList } from "./images";
import { type Traits, isHttpUrl } from "./protocol";
import { ratioPicker } from "./ratio";
import { seedControls } from "./seeds";
import { settings } from "./settings";
import { costLine, header, jobList } from "./status";
import { modeSwitch, sweepControls } from "./sweep";
import { Viewer } from "./viewer";

export type { Traits as WidgetModel };

const isEditable = (t: EventTarget | null): boolean =>
  t instanceof HTMLTextAreaElement ||
  (t instanceof HTMLInputElement && !["checkbox", "radio", "range", "button", "file"].includes(t.type));

function build(ctx: Ctx): void {
  const { root } = ctx;
  const viewer = new Viewer(ctx);
  const images = imageList(ctx);
  const seeds = seedControls(ctx);
  const sweep = sweepControls(ctx);

  const [promptWrap, prompt] = labelled(
    "Prompt",
    h("textarea", {
      rows: 3,
      placeholder: "Describe the edit, e.g. “put the shoes on her”",
      class: "kw-prompt-box",
    }),
  );
  const flushPrompt = bindText(ctx, prompt, "prompt");
  ctx.field("prompt", prompt);

  const generate = button("Generate", {
    class: "kw-primary",
    title: "Generate (Ctrl+Enter / ⌘Enter)",
    "aria-keyshortcuts": "Control+Enter Meta+Enter",
  });
  const cancel = button("Cancel");
  const cost = costLine(ctx);
  cost.id = uid("cost");
  cost.classList.add("kw-single-only");
  // Generate is described by what it will do: the cost line, or the sweep's plan line.
  ctx.watch(["mode"], () =>
    generate.setAttribute("aria-describedby", ctx.get("mode") === "sweep" ? sweep.plan.id : cost.id),
  );

  const run = (): void => {
    // Make sure the last keystrokes reached Python before the command does (same comm, in order).
    const active = document.activeElement;
    if (active instanceof HTMLInputElement && root.contains(active) && active.type === "number") {
      active.dispatchEvent(new Event("change", { bubbles: true }));
    }
    flushPrompt();
    seeds.flush();
    sweep.flush();
    ctx.send({ type: "generate" });
  };
  ctx.on(generate, "click", run);
  ctx.on(cancel, "click", () => ctx.send({ type: "cancel" }));
  ctx.watch(["busy"], () => {
    cancel.disabled = ctx.get("busy") !== true;
  });
  ctx.on<KeyboardEvent>(root, "keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && !ev.isComposing && !viewer.dialog.open) {
      ev.preventDefault();
      ev.stopPropagation();
      run();
    }
  });

  // Paste images anywhere in the widget; text pastes into text fields as usual.
  ctx.on<ClipboardEvent>(root, "paste", async (ev) => {
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

  root.append(
    header(ctx),
    modeSwitch(ctx),
    h(
      "div",
      { class: "kw-controls" },
      h("div", { class: "kw-col" }, promptWrap, images.el),
      h("div", { class: "kw-col" }, ratioPicker(ctx), seeds.el, settings(ctx)),
    ),
    sweep.panel,
    h(
      "div",
      { class: "kw-actionbar" },
      cost,
      sweep.plan,
      h("span", { class: "kw-spacer" }),
      generate,
      cancel,
      sweep.retry,
    ),
    sweep.progress,
    ctx.alert,
    jobList(ctx),
    history(ctx),
    gallery(ctx, viewer),
    viewer.dialog,
  );
  ctx.renderAlerts();
}

const render: Render<Traits> = ({ model, el }) => {
  const root = h("div", {
    class: "kontext-widget",
    // JupyterLab: keep notebook shortcuts (a, b, d d, Ctrl+Enter, Esc…) away from our controls.
    "data-lm-suppress-shortcuts": "true",
    "data-p-suppress-shortcuts": "true",
  });
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
