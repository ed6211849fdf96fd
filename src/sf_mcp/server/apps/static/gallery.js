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
  let viewer = null; // contest_status: the signed-in wallet and its voting power, once known
  const viewerKnown = [];

  const status = h("p", { class: "status", role: "status" });
  const powerNote = h("p", { class: "muted", "data-field": "power-note" });
  const planArea = h("section", { "data-field": "vote-plan", "aria-label": "Your vote to sign" });
  const grid = h("div", { class: "grid", "data-field": "items" });
  const pageInfo = h("span", { class: "muted", "data-field": "page" });
  const prev = h("button", { type: "button", name: "previous", onclick: () => go(pageIndex - 1) }, "Previous");
  const next = h("button", { type: "button", name: "next", onclick: () => go(pageIndex + 1) }, "Next page");

  // Not a <form>: hosts sandbox views without allow-forms, where a submit is blocked.
  const field = {
    timeframe: h("select", { name: "timeframe" }, [["all", "All time"], ["today", "Today"], ["week", "This week"], ["month", "This month"]].map(option)),
    type: h("select", { name: "type" }, [["all", "Images and videos"], ["image", "Images"], ["video", "Videos"]].map(option)),
    sort: h("select", { name: "sort" }, [["newest", "Newest"], ["top", "Top"], ["trending", "Trending"]].map(option)),
    search: h("input", { name: "search", type: "search", maxlength: "100", placeholder: "e.g. fox", onkeydown: (e) => { if (e.key === "Enter") apply(); } }),
    staked_only: h("input", { name: "staked_only", type: "checkbox" }),
  };
  const form = h("div", { class: "filters card", role: "search" },
    h("label", {}, "When", field.timeframe), h("label", {}, "Type", field.type), h("label", {}, "Sort", field.sort),
    h("label", {}, "Prompt contains", field.search), h("label", { class: "check" }, field.staked_only, "Stakers only"),
    h("button", { class: "primary", type: "button", name: "apply", onclick: () => apply() }, "Apply"));

  function option([value, text]) {
    return h("option", { value, text });
  }

  function apply() {
    query = { ...query, timeframe: field.timeframe.value, type: field.type.value, sort: field.sort.value,
      search: field.search.value.trim(), staked_only: field.staked_only.checked };
    cursors = [null];
    go(0);
  }

  function fillForm() {
    field.timeframe.value = query.timeframe; field.type.value = query.type; field.sort.value = query.sort;
    field.search.value = query.search || ""; field.staked_only.checked = !!query.staked_only;
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
    const voteStatus = h("p", { class: "status", role: "status" });
    const vote = h("button", { type: "button", name: "vote", "data-task": item.task_id }, "Vote");
    vote.addEventListener("click", async () => {
      vote.disabled = true;
      setStatus(voteStatus, "Preparing your vote…");
      try {
        const action = await call(app, "vote", { generation_id: item.task_id });
        setStatus(voteStatus, "Your vote is ready to sign, above.", "ok");
        planArea.replaceChildren(h("h2", { text: "Your vote" }), h("p", { class: "prompt muted", text: item.prompt }),
          planPanel(app, action, (receipts) => {
            setStatus(voteStatus, "Vote sent: it counts once the indexer sees it.", "ok");
            planArea.prepend(h("p", { class: "status ok", "data-field": "vote-sent", text: `Vote sent (${receipts.map((r) => r.tx_hash).join(", ")}): it counts once the indexer sees it.` }));
          }));
        planArea.scrollIntoView({ block: "nearest" });
      } catch (error) {
        setStatus(voteStatus, error.message, "error");
        vote.disabled = false;
      }
    });
    whenViewerKnown((me) => {
      if (me.wallet === item.wallet) vote.replaceWith(h("span", { class: "muted", "data-field": "own", text: "Your entry" }));
    });
    if (item.content_uri && item.status === "succeeded") {
      mediaSource(app, item).then((src) => thumb.replaceChildren(mediaElement(item.kind, src, item.prompt)),
        () => thumb.replaceChildren("unavailable"));
    }
    return h("article", { class: "item card", "data-task": item.task_id },
      thumb,
      h("p", { class: "prompt", "data-field": "prompt", title: item.prompt, text: item.prompt }),
      h("p", { class: "muted" }, h("span", { class: "nowrap", text: `${item.points} points · ${item.votes} votes` }), " ",
        h("span", { class: "nowrap", title: item.wallet, text: `by ${shortAddress(item.wallet)}` })),
      h("div", { class: "row" }, vote, h("span", { class: "muted", text: new Date(item.created_at).toLocaleDateString() })),
      voteStatus);
  }

  /** Runs fn(viewer) once the viewer is known (no vote button on your own entries: the contract refuses them). */
  function whenViewerKnown(fn) {
    if (viewer) fn(viewer);
    else viewerKnown.push(fn);
  }

  async function loadViewer() {
    try {
      viewer = await call(app, "contest_status", {});
    } catch {
      return; // without it every card keeps its button; the vote tool explains any refusal
    }
    viewerKnown.splice(0).forEach((fn) => fn(viewer));
    if (!viewer.voting_power) {
      powerNote.textContent = "You have no voting power in this contest: it counts the BanditKidz NFTs staked when it started.";
    }
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

  root.replaceChildren(h("h1", { text: "Community gallery" }), form, status, powerNote, planArea, grid,
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
    connected() { fillForm(); loadViewer(); },
  });
})();
