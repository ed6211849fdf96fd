// Shared by the sf-mcp views: the App connection, the host's theme, safe DOM building, server calls through
// the host, media from content:// and the "sign this plan in your wallet" panel.
//
// Every text that came from a user or the server (prompts, addresses, messages) is set with textContent,
// never parsed as HTML: h() has no way to insert markup.
"use strict";
(() => {
  const { App, applyDocumentTheme, applyHostStyleVariables } = globalThis.McpApps;

  /** An element with attributes, listeners (on*) and children (strings become text nodes). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "class") el.className = value;
      else if (key === "text") el.textContent = String(value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function textOf(result) {
    return (result.content || []).filter((c) => c.type === "text").map((c) => c.text).join(" ").trim();
  }

  /** A short wallet address for display: 0x1234…abcd. */
  function shortAddress(address) {
    return typeof address === "string" && address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : String(address);
  }

  function duration(seconds) {
    if (seconds <= 0) return "ended";
    const d = Math.floor(seconds / 86400), hrs = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
    if (d) return `${d} d ${hrs} h`;
    if (hrs) return `${hrs} h ${m} min`;
    return `${Math.max(m, 1)} min`;
  }

  function applyContext(ctx) {
    if (!ctx) return;
    if (ctx.theme) applyDocumentTheme(ctx.theme);
    if (ctx.styles && ctx.styles.variables) applyHostStyleVariables(ctx.styles.variables);
  }

  /** The App, connecting to the host; handlers: input(args), result(callToolResult), cancelled(), connected(). */
  function start(name, handlers) {
    const app = new App({ name: `sf-mcp ${name} view`, version: "1.0.0" }, {}, { autoResize: true });
    app.onhostcontextchanged = (ctx) => applyContext(ctx);
    app.ontoolinput = (params) => handlers.input && handlers.input(params.arguments || {});
    app.ontoolresult = (result) => handlers.result && handlers.result(result);
    app.ontoolcancelled = () => handlers.cancelled && handlers.cancelled();
    app.onteardown = async () => ({});
    app.connect().then(() => {
      applyContext(app.getHostContext());
      if (handlers.connected) handlers.connected();
    }, (error) => {
      document.getElementById("root").replaceChildren(h("p", { class: "error", text: `Could not connect to the host: ${error.message}` }));
    });
    return app;
  }

  /** Calls a server tool through the host; its structured output, or an Error with the tool's message. */
  async function call(app, name, args) {
    const result = await app.callServerTool({ name, arguments: args || {} });
    if (result.isError) throw new Error(textOf(result) || `${name} failed`);
    return result.structuredContent;
  }

  /** An <img> / <video> source for a generation: its public URL, or its bytes read from content:// as data:. */
  async function mediaSource(app, item) {
    if (item.public_url) return item.public_url;
    const read = await app.readServerResource({ uri: item.content_uri });
    const content = read.contents[0];
    return `data:${content.mimeType || item.mime_type};base64,${content.blob}`;
  }

  function mediaElement(kind, src, alt) {
    if (kind === "video") return h("video", { src, controls: true, playsinline: true, preload: "metadata", "aria-label": alt });
    return h("img", { src, alt });
  }

  function setStatus(el, message, kind) {
    el.textContent = message || "";
    el.className = `status ${kind || ""}`;
  }

  /**
   * A ChainAction answered by vote / contest: the unsigned transactions for the user's wallet, a box for the
   * signed transactions and a button that relays them with send_transaction. The view never signs.
   */
  function planPanel(app, action, onSent) {
    if (action.mode === "sent") {
      return h("div", { class: "plan card", "data-plan": "sent" },
        h("p", { class: "status ok", text: action.summary }),
        (action.sent.transactions || []).map((tx) => h("p", { class: "mono", text: `${tx.summary}: ${tx.status} (${tx.tx_hash})` })));
    }
    const plan = action.plan;
    const status = h("p", { class: "status", role: "status" });
    const signed = h("textarea", { name: "signed", "aria-label": "Signed transactions, one per line", placeholder: "0x02f8…  (one signed transaction per line, in order)" });
    const send = h("button", { class: "primary", name: "send", type: "button" }, "Send signed transaction");
    send.addEventListener("click", async () => {
      const lines = signed.value.split(/\s+/).map((s) => s.trim()).filter(Boolean);
      if (!lines.length) return setStatus(status, "Paste the signed transaction first.", "error");
      send.disabled = true;
      try {
        const receipts = [];
        for (const line of lines) {
          setStatus(status, `Sending ${receipts.length + 1} of ${lines.length}…`);
          const relayed = await call(app, "send_transaction", { signed_tx: line });
          receipts.push(...relayed.sent.transactions);
        }
        const failed = receipts.find((r) => r.status !== "success");
        setStatus(status, failed ? `Reverted: ${failed.tx_hash}` : `Sent: ${receipts.map((r) => r.tx_hash).join(", ")}`, failed ? "error" : "ok");
        if (!failed && onSent) onSent(receipts);
      } catch (error) {
        setStatus(status, error.message, "error");
        send.disabled = false;
      }
    });
    const unsigned = plan.transactions.map((tx) => ({
      type: tx.type, chainId: tx.chain_id, from: tx.from, to: tx.to, nonce: tx.nonce, value: tx.value, data: tx.data,
      gas: tx.gas, maxFeePerGas: tx.max_fee_per_gas, maxPriorityFeePerGas: tx.max_priority_fee_per_gas,
    }));
    return h("div", { class: "plan card", "data-plan": "unsigned" },
      h("p", {}, h("b", { text: "Sign in your wallet: " }), plan.summary),
      h("ol", {}, plan.transactions.map((tx) => h("li", { text: tx.summary }))),
      h("p", { class: "muted", text: `For ${plan.wallet} on ${plan.chain} (chain id ${plan.chain_id}). sf-mcp never signs for you: sign these with your wallet (e.g. cast mktx), paste the result and send it, or send it from your wallet yourself.` }),
      (plan.notes || []).map((note) => h("p", { class: "muted", text: note })),
      h("pre", { class: "mono", "data-unsigned": "" }, JSON.stringify(unsigned.length === 1 ? unsigned[0] : unsigned, null, 2)),
      signed, h("div", { class: "row" }, send), status);
  }

  globalThis.SfView = { h, call, start, textOf, shortAddress, duration, mediaSource, mediaElement, setStatus, planPanel };
})();
