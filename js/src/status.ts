// Header (SIMULATED badge, status line) and the per-job list.
import type { Ctx } from "./context";
import { h, setText } from "./dom";
import { type Job, readJobs, str } from "./protocol";

const LIVE = new Set(["queued", "uploading", "running"]);

export function header(ctx: Ctx): HTMLElement {
  const badge = h(
    "span",
    {
      class: "kw-badge",
      title: "No WAVESPEED_API_KEY: results come from the offline simulator, not the real service.",
    },
    "SIMULATED",
  );
  const spinner = h("span", { class: "kw-spinner", "aria-hidden": "true" });
  const status = h("span", { class: "kw-status", role: "status", "aria-live": "polite" });
  ctx.watch(["simulated"], () => {
    const sim = ctx.get("simulated") === true;
    badge.hidden = !sim;
    ctx.root.classList.toggle("kw-is-sim", sim);
  });
  ctx.watch(["status"], () => {
    if (ctx.offline === null) setText(status, str(ctx.get("status")));
  });
  ctx.onOffline(() => setText(status, `No kernel · ${str(ctx.get("status"))}`));
  ctx.watch(["busy"], () => {
    const busy = ctx.get("busy") === true;
    spinner.hidden = !busy;
    ctx.root.classList.toggle("kw-busy", busy);
    ctx.root.setAttribute("aria-busy", String(busy));
  });
  return h(
    "div",
    { class: "kw-header" },
    h("strong", { class: "kw-apptitle" }, "FLUX.1 Kontext [pro] Multi"),
    badge,
    spinner,
    status,
  );
}

function elapsed(job: Job, now: number): string {
  if (job.started === null) return "";
  const end = LIVE.has(job.state) ? now : (job.finished ?? now);
  return `${Math.max(0, end - job.started).toFixed(1)} s`;
}

export function jobList(ctx: Ctx): HTMLElement {
  const list = h("ul", { class: "kw-jobs", "aria-label": "Jobs" });
  let jobs: Job[] = [];
  let times: HTMLElement[] = [];
  let stop: (() => void) | null = null;

  const tick = (): void => {
    const now = Date.now() / 1000;
    jobs.forEach((job, i) => {
      const t = times[i];
      if (t) setText(t, elapsed(job, now));
    });
  };

  ctx.watch(["jobs"], () => {
    jobs = readJobs(ctx.get("jobs"));
    times = [];
    list.replaceChildren(
      ...jobs.map((job) => {
        const time = h("span", { class: "kw-time" });
        times.push(time);
        return h(
          "li",
          { class: `kw-job kw-job-${job.state.replace(/[^a-z]/g, "")}` },
          h("span", { class: "kw-joblabel" }, job.label),
          h("span", { class: "kw-state" }, job.state),
          time,
          job.error ? h("span", { class: "kw-joberr" }, job.error) : null,
        );
      }),
    );
    list.hidden = jobs.length === 0;
    tick();
    const live = jobs.some((j) => LIVE.has(j.state) && j.started !== null);
    if (live && !stop) stop = ctx.scope.interval(tick, 500);
    if (!live && stop) {
      stop();
      stop = null;
    }
  });
  ctx.onOffline(() => {
    // No kernel will end these jobs: their clocks stop where they are.
    stop?.();
    stop = null;
  });
  return list;
}
