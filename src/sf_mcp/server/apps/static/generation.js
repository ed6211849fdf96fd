// The generation view (generate_image, generate_video, get_generation): a progress bar while the task runs,
// then the image or the video, the model used, the payment, the contest entry, and buttons for a variation
// and the full-size file. A task still running is awaited with get_generation (it waits server-side).
"use strict";
(() => {
  const { h, call, start, mediaSource, mediaElement, setStatus } = globalThis.SfView;
  const root = document.getElementById("root");
  const STAGES = ["Queued", "Generating", "Ready"];
  const FINISHED = new Set(["succeeded", "failed", "refunded"]);
  let app = null;
  let prompt = "";
  let shown = null; // task_id on screen
  let args = {};

  function stageOf(status) {
    if (status === "queued") return 1;
    if (status === "running") return 2;
    return 3;
  }

  function progress(stage, label) {
    const pct = Math.round((stage / STAGES.length) * 100);
    return h("div", { class: "progress-block", "data-stage": String(stage) },
      h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct), "aria-label": label },
        h("div", { style: `width:${Math.max(pct, 6)}%` })),
      h("div", { class: "steps" }, STAGES.map((s, i) => h("span", { class: i < stage ? "done" : "", text: s }))),
      h("p", { class: "muted", text: label }));
  }

  function header(text) {
    return [h("h1", { text: "Generation" }), h("p", { class: "prompt", "data-field": "prompt", text })];
  }

  function renderWaiting() {
    root.replaceChildren(...header(prompt), progress(0, "Starting: checking the payment…"));
  }

  function paymentText(result) {
    const p = result.payment || {};
    const method = { free: "free daily quota", credits: "one credit", crypto: "paid on Sonic", x402: "paid with x402 (USDC)" }[p.method] || p.method;
    let text = method;
    if (p.replay) text += " (a retry: nothing charged again)";
    if (p.refunded) text += ", refunded";
    return text;
  }

  function contestText(result) {
    const paid = result.payment && (result.payment.method === "crypto" || result.payment.method === "x402");
    if (result.status !== "succeeded") return "Not entered";
    return paid ? "Entered in this week's contest: others can vote for it" : "Not entered: only paid generations enter the contest";
  }

  function facts(result) {
    const rows = [
      ["Model", result.model ? `${result.model}${result.local_renderer ? " (offline placeholder renderer)" : ""}` : "—"],
      ["Payment", paymentText(result)],
      ["Contest", contestText(result)],
      ["Task", result.task_id],
    ];
    if (result.model_requested && result.model_requested !== result.model) rows.splice(1, 0, ["Asked for", result.model_requested]);
    if (result.elapsed_ms != null) rows.push(["Took", `${(result.elapsed_ms / 1000).toFixed(1)} s`]);
    return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", { text: k }), h("dd", { "data-field": k.toLowerCase(), text: v })]));
  }

  async function render(result) {
    shown = result.task_id;
    prompt = result.prompt || prompt;
    const status = h("p", { class: "status", role: "status" });
    if (!FINISHED.has(result.status)) {
      root.replaceChildren(...header(prompt), progress(stageOf(result.status), `Task ${result.task_id} is ${result.status}…`), facts(result), status);
      return follow(result.task_id);
    }
    if (result.status !== "succeeded") {
      const refund = result.payment && result.payment.refunded ? " The payment was returned." : "";
      root.replaceChildren(...header(prompt), h("p", { class: "error", "data-field": "error", text: `Generation failed: ${result.error || result.status}.${refund}` }), facts(result));
      return;
    }
    const media = h("div", { class: "media", "data-field": "media" }, h("p", { class: "muted", text: "Loading…" }));
    const buttons = h("div", { class: "row" });
    if (result.kind === "image" && ["free", "credits"].includes(result.payment && result.payment.method)) {
      buttons.append(h("button", { type: "button", name: "variation", onclick: () => variation(result, status) }, "Variation (new seed)"));
    }
    buttons.append(h("button", { type: "button", name: "full-size", onclick: () => fullSize(result, status) }, "Open full size"));
    root.replaceChildren(...header(prompt), progress(3, `${result.kind === "video" ? "Video" : "Image"} ready`), media, facts(result),
      ...(result.notes || []).map((n) => h("p", { class: "muted", text: n })), buttons, status);
    try {
      const src = await mediaSource(app, result);
      if (shown !== result.task_id) return;
      media.replaceChildren(mediaElement(result.kind, src, prompt));
    } catch (error) {
      media.replaceChildren(h("p", { class: "error", text: `Could not load the ${result.kind}: ${error.message}` }));
    }
  }

  async function follow(taskId) {
    while (shown === taskId) {
      let result;
      try {
        result = await call(app, "get_generation", { task_id: taskId, wait_s: 25 });
      } catch (error) {
        const failed = /failed|refunded/.test(error.message);
        if (!failed) root.append(h("p", { class: "error", text: error.message }));
        else root.replaceChildren(...header(prompt), h("p", { class: "error", "data-field": "error", text: error.message }));
        return;
      }
      if (shown !== taskId) return;
      if (FINISHED.has(result.status)) return render(result);
      const bar = root.querySelector(".progress-block");
      if (bar) bar.replaceWith(progress(stageOf(result.status), `Task ${taskId} is ${result.status}…`));
    }
  }

  async function variation(result, status) {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const next = { ...args, prompt: result.prompt, seed, payment: { method: result.payment.method } };
    delete next.request_id;
    shown = null;
    root.replaceChildren(...header(result.prompt), progress(1, `Variation with seed ${seed}…`));
    try {
      const answer = await app.callServerTool({ name: "generate_image", arguments: next });
      if (answer.isError) throw new Error(globalThis.SfView.textOf(answer));
      args = next;
      await render(answer.structuredContent);
    } catch (error) {
      root.append(h("p", { class: "error", text: error.message }));
    }
  }

  async function fullSize(result, status) {
    if (result.public_url) {
      const opened = await app.openLink({ url: result.public_url });
      if (opened && opened.isError) setStatus(status, "The host did not open the link.", "error");
      return;
    }
    const img = root.querySelector(".media img, .media video");
    if (img) {
      img.style.maxHeight = "none";
      img.scrollIntoView({ block: "start" });
      setStatus(status, "Shown at full size above.", "ok");
    }
  }

  app = start("generation", {
    input(a) { args = a; prompt = a.prompt || prompt; if (!shown) renderWaiting(); },
    result(r) {
      if (r.isError && !r.structuredContent) {
        root.replaceChildren(...header(prompt), h("p", { class: "error", "data-field": "error", text: globalThis.SfView.textOf(r) }));
        return;
      }
      if (r.structuredContent && r.structuredContent.task_id) render(r.structuredContent);
    },
    cancelled() { root.append(h("p", { class: "muted", text: "Cancelled." })); },
    connected() { if (!root.childElementCount) root.replaceChildren(h("p", { class: "muted", text: "Waiting for the generation…" })); },
  });
})();
