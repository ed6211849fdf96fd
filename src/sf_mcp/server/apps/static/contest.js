// The contest view (leaderboard, contest): the week's standings, the prize pool and time left by the chain's
// clock, the viewer's voting power, and finalize / claim when they apply (as plans for the user's wallet).
"use strict";
(() => {
  const { h, call, start, textOf, shortAddress, duration, setStatus, planPanel } = globalThis.SfView;
  const root = document.getElementById("root");
  let app = null;
  let board = null;
  let standing = null;
  let action = null; // the plan on screen, if any
  let boardArgs = { period: "week", limit: 10 };

  const status = h("p", { class: "status", role: "status" });

  function stat(label, value, field) {
    return h("div", { class: "stat card" }, h("span", { class: "muted", text: label }), h("b", { "data-field": field, text: value }));
  }

  function standings() {
    if (!board) return h("p", { class: "muted", text: "Loading the standings…" });
    if (!board.entries.length) return h("p", { class: "muted", "data-field": "standings", text: "No votes yet in this contest." });
    return h("table", { "data-field": "standings" },
      h("thead", {}, h("tr", {}, h("th", { text: "#" }), h("th", { text: "Creator" }), h("th", { class: "num", text: "Points" }),
        h("th", { class: "num opt", text: "Votes" }), h("th", { class: "num opt", text: "Entries" }))),
      h("tbody", {}, board.entries.map((e) => h("tr", { "data-creator": e.creator },
        h("td", { text: e.rank }), h("td", { class: "mono", title: e.creator, text: shortAddress(e.creator) }),
        h("td", { class: "num", "data-field": "points", text: e.points }), h("td", { class: "num opt", text: e.votes }),
        h("td", { class: "num opt", text: e.generations })))));
  }

  function render() {
    const title = board && board.period === "all" ? "All-time leaderboard" : `Weekly contest${board && board.contest_id ? ` #${board.contest_id}` : ""}`;
    const stats = h("div", { class: "stats" });
    if (board && board.period === "week") {
      stats.append(stat("Prize pool", `${board.prize_pool_s} S + ${board.prize_pool_usdc} USDC`, "pool"));
      if (standing && standing.contest_id === board.contest_id) stats.append(stat("Time left", duration(standing.ends_in_s), "time-left"));
      else if (board.finalized !== null) stats.append(stat("State", board.finalized ? "finalized" : "ended", "time-left"));
    }
    if (standing) {
      stats.append(stat("Your voting power", `${standing.voting_power} per vote`, "voting-power"));
      stats.append(stat("Your prizes to claim", standing.can_claim ? `${standing.pending_prize.s.amount} S + ${standing.pending_prize.usdc.amount} USDC` : "none", "prize"));
    }
    const buttons = h("div", { class: "row" }, h("button", { type: "button", name: "refresh", onclick: refresh }, "Refresh"));
    if (standing && standing.finalizable_contest_id) {
      buttons.append(h("button", { type: "button", name: "finalize", class: "primary", onclick: () => act({ action: "finalize", contest_id: standing.finalizable_contest_id }) },
        `Finalize contest #${standing.finalizable_contest_id}`));
    }
    if (standing && standing.can_claim) {
      buttons.append(h("button", { type: "button", name: "claim", class: "primary", onclick: () => act({ action: "claim" }) }, "Claim prizes"));
    }
    const notes = [];
    if (standing) {
      notes.push(standing.voting_power
        ? `Each of your votes adds ${standing.voting_power} ${standing.voting_power === 1 ? "point" : "points"}; one vote per entry, none for your own. Vote from the gallery.`
        : `You have no voting power in this contest: it counts the NFTs staked when it started${standing.voting_power_next_contest ? ` (you stake ${standing.voting_power_next_contest} now: they count from the next contest)` : ""}.`);
    }
    root.replaceChildren(h("h1", { text: title }), stats, standings(),
      ...notes.map((n) => h("p", { class: "muted", "data-field": "votes-note", text: n })), buttons, status,
      action ? planPanel(app, action, (receipts) => {
        action = null;
        refresh(`Sent: ${receipts.map((r) => r.tx_hash).join(", ")}`);
      }) : "");
  }

  async function loadStanding() {
    try {
      standing = await call(app, "contest_status", {});
    } catch (error) {
      setStatus(status, error.message, "error");
    }
  }

  async function loadBoard() {
    board = await call(app, "leaderboard", boardArgs);
    await loadStanding();
  }

  async function refresh(done) {
    setStatus(status, "Refreshing…");
    try {
      await loadBoard();
      render();
      setStatus(status, typeof done === "string" ? done : "", "ok");
    } catch (error) {
      setStatus(status, error.message, "error");
    }
  }

  async function act(args) {
    setStatus(status, "Preparing the transaction…");
    try {
      action = await call(app, "contest", args);
      render();
    } catch (error) {
      setStatus(status, error.message, "error");
    }
  }

  render();
  app = start("contest", {
    input(a) { if ("period" in a || "contest_id" in a || "limit" in a) boardArgs = { ...boardArgs, ...a }; },
    async result(result) {
      if (result.isError) {
        setStatus(status, textOf(result), "error");
        await loadBoard().catch(() => null);
        render();
        return;
      }
      const data = result.structuredContent || {};
      if (Array.isArray(data.entries)) {
        board = data;
        action = null;
      } else if (data.mode) {
        action = data; // a contest tool answer: the plan to sign (or, with an agent key, the receipts)
        board = await call(app, "leaderboard", boardArgs).catch(() => board);
      }
      await loadStanding();
      render();
    },
  });
})();
