// The gallery view (gallery): thumbnails with the tool's filters, paging with its cursor, and a vote button on
// each card that shows the unsigned vote for the user's wallet to sign.
"use strict";
(() => {
  const { h, call, start, textOf, shortAddress, mediaSource, mediaElement, setStatus, planPanel } = globalThis.SfView;
  const root = document.getElementById("root");
  const DEFAULTS = { timeframe: "all", type: "all", sort: "newest", staked_only: false, search: "", limit: 12 };
  let app = null;
  let query = { ...DEFAULTS };
  let cursors = [null]; // cursors[i] opens page i + 1
  let pageIndex = 0;
  let loading = 0;

  const status = h("p", { class: "status", role: "status" });
  const grid = h("div", { class: "grid", "data-field": "items" });
  const pageInfo = h("span", { class: "muted", "data-field": "page" });
  const prev = h("button", { type: "button", name: "previous", onclick: () => go(pageIndex - 1) }, "Previous");
  const next = h("button", { type: "button", name: "next", onclick: () => go(pageIndex + 1) }, "Next page");

  function select(name, label, options) {
    return h("label", {}, label, h("select", { name }, options.map(([value, text]) => h("option", { value, text }))));
  }

  const form = h("form", { class: "filters card", name: "filters" },
    select("timeframe", "When", [["all", "All time"], ["today", "Today"], ["week", "This week"], ["month", "This month"]]),
    select("type", "Type", [["all", "Images and videos"], ["image", "Images"], ["video", "Videos"]]),
    select("sort", "Sort", [["newest", "Newest"], ["top", "Top"], ["trending", "Trending"]]),
    h("label", {}, "Prompt contains", h("input", { name: "search", type: "search", maxlength: "100", placeholder: "e.g. fox" })),
    h("label", { class: "check" }, h("input", { name: "staked_only", type: "checkbox" }), "Stakers only"),
    h("button", { class: "primary", type: "submit", name: "apply" }, "Apply"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const f = form.elements;
    query = { ...query, timeframe: f.timeframe.value, type: f.type.value, sort: f.sort.value, search: f.search.value.trim(), staked_only: f.staked_only.checked };
    cursors = [null];
    go(0);
  });

  function fillForm() {
    const f = form.elements;
    f.timeframe.value = query.timeframe; f.type.value = query.type; f.sort.value = query.sort;
    f.search.value = query.search || ""; f.staked_only.checked = !!query.staked_only;
  }

  function args(cursor) {
    const a = { timeframe: query.timeframe, type: query.type, sort: query.sort, staked_only: !!query.staked_only, limit: query.limit };
    if (query.search) a.search = query.search;
    if (cursor) a.cursor = cursor;
    return a;
  }

  async function go(index) {
    if (index < 0 || index >= cursors.length) return;
    const ticket = ++loading;
    setStatus(status, "Loading…");
    try {
      const page = await call(app, "gallery", args(cursors[index]));
      if (ticket !== loading) return;
      pageIndex = index;
      show(page);
    } catch (error) {
      if (ticket === loading) setStatus(status, error.message, "error");
    }
  }

  function card(item) {
    const thumb = h("div", { class: "thumb" }, item.kind === "video" ? "video" : "…");
    const voteArea = h("div", {});
    const voteStatus = h("p", { class: "status", role: "status" });
    const vote = h("button", { type: "button", name: "vote", "data-task": item.task_id }, "Vote");
    vote.addEventListener("click", async () => {
      vote.disabled = true;
      setStatus(voteStatus, "Preparing your vote…");
      try {
        const action = await call(app, "vote", { generation_id: item.task_id });
        setStatus(voteStatus, "");
        voteArea.replaceChildren(planPanel(app, action, () => setStatus(voteStatus, "Vote sent: it counts once the indexer sees it.", "ok")));
      } catch (error) {
        setStatus(voteStatus, error.message, "error");
        vote.disabled = false;
      }
    });
    if (item.content_uri && item.status === "succeeded") {
      mediaSource(app, item).then((src) => thumb.replaceChildren(mediaElement(item.kind, src, item.prompt)),
        () => thumb.replaceChildren("unavailable"));
    }
    return h("article", { class: "item card", "data-task": item.task_id },
      thumb,
      h("p", { class: "prompt", "data-field": "prompt", title: item.prompt, text: item.prompt }),
      h("p", { class: "muted" }, `${item.points} points · ${item.votes} votes · by ${shortAddress(item.wallet)}`),
      h("div", { class: "row" }, vote, h("span", { class: "muted", text: new Date(item.created_at).toLocaleDateString() })),
      voteStatus, voteArea);
  }

  function show(page) {
    if (page.next_cursor && cursors.length === pageIndex + 1) cursors.push(page.next_cursor);
    if (!page.next_cursor) cursors = cursors.slice(0, pageIndex + 1);
    grid.replaceChildren(...(page.items.length ? page.items.map(card) : [h("p", { class: "muted", text: "Nothing matches these filters." })]));
    const pages = Math.max(1, Math.ceil(page.total / page.limit));
    pageInfo.textContent = `Page ${page.page} of ${pages} · ${page.total} generations`;
    prev.disabled = pageIndex === 0;
    next.disabled = !page.next_cursor;
    setStatus(status, "");
  }

  root.replaceChildren(h("h1", { text: "Community gallery" }), form, status, grid,
    h("div", { class: "row pager" }, prev, pageInfo, h("span", { class: "spacer" }), next));

  app = start("gallery", {
    input(a) {
      query = { ...DEFAULTS, ...a };
      delete query.cursor; delete query.page;
      fillForm();
    },
    result(result) {
      if (result.isError) return setStatus(status, textOf(result), "error");
      if (result.structuredContent) {
        query.limit = result.structuredContent.limit || query.limit;
        cursors = [null];
        pageIndex = 0;
        show(result.structuredContent);
      }
    },
    connected() { fillForm(); },
  });
})();
