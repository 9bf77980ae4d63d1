// grade review: the keyboard. Everything also works with the mouse and without this script.
(function () {
  "use strict";
  const page = document.body.dataset.page;
  const typing = (el) => el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  const go = (url) => { if (url) { window.location.assign(url); } };
  const help = document.getElementById("help");
  document.getElementById("help-toggle").addEventListener("click", (e) => { e.preventDefault(); help.hidden = !help.hidden; });

  // Every form sends the comment box with it.
  const comment = document.getElementById("comment");
  document.querySelectorAll("form[method=post]").forEach((form) => {
    form.addEventListener("submit", () => {
      const field = form.querySelector("input[name=comment]");
      if (field && comment) { field.value = comment.value; }
    });
  });

  let rows = [];
  let selected = -1;
  function select(index) {
    if (!rows.length) { return; }
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("selected", i === selected));
    rows[selected].scrollIntoView({ block: "nearest" });
    if (page === "answer") { showEvidence(rows[selected].dataset.concept); }
  }
  function showEvidence(conceptId) {
    let first = null;
    document.querySelectorAll("#answer mark").forEach((mark) => {
      const on = mark.dataset.concepts.split(" ").includes(conceptId);
      mark.classList.toggle("on", on);
      if (on && !first) { first = mark; }
    });
    if (first) { first.scrollIntoView({ block: "nearest" }); }
  }

  if (page === "queue") {
    rows = Array.from(document.querySelectorAll("table.queue tbody tr[data-href]"));
    rows.forEach((row, i) => row.addEventListener("click", (e) => {
      if (e.target.tagName !== "A") { select(i); go(row.dataset.href); }
    }));
    select(0);
  }
  const pager = document.querySelector("nav.pager");
  if (page === "answer") {
    rows = Array.from(document.querySelectorAll("tbody.concept"));
    rows.forEach((row, i) => row.addEventListener("click", (e) => {
      if (e.target.tagName !== "BUTTON") { select(i); }
    }));
    const fromHash = /^#c(\d+)$/.exec(window.location.hash);
    select(fromHash ? Number(fromHash[1]) - 1 : 0);
  }

  function setStatus(status) {
    const row = rows[selected];
    if (!row) { return; }
    const button = row.querySelector(`button[value=${status}]`);
    button.form.requestSubmit(button);
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (typing(document.activeElement)) {
      if (e.key === "Escape") { document.activeElement.blur(); }
      return;
    }
    const key = e.key;
    if (key === "?") { help.hidden = !help.hidden; return; }
    if (page === "queue") {
      if (key === "j" || key === "ArrowDown") { select(selected + 1); e.preventDefault(); }
      else if (key === "k" || key === "ArrowUp") { select(selected - 1); e.preventDefault(); }
      else if (key === "Enter" && rows[selected]) { go(rows[selected].dataset.href); }
      else if (key === "/") { document.getElementById("candidate-filter").focus(); e.preventDefault(); }
      return;
    }
    if (page !== "answer") { return; }
    if (key === "j" || key === "ArrowRight") { go(pager.dataset.next); }
    else if (key === "k" || key === "ArrowLeft") { go(pager.dataset.previous); }
    else if (key === "u" || key === "Escape") { go(pager.dataset.queue); }
    else if (key === "ArrowDown") { select(selected + 1); e.preventDefault(); }
    else if (key === "ArrowUp") { select(selected - 1); e.preventDefault(); }
    else if (key === "1") { setStatus("covered"); }
    else if (key === "2") { setStatus("partial"); }
    else if (key === "3") { setStatus("missing"); }
    else if (key === "Enter") {
      const confirm = document.getElementById("confirm-form");
      if (confirm) { confirm.requestSubmit(); e.preventDefault(); }
    }
    else if (key === "s") { const input = document.getElementById("score-input"); if (input) { input.focus(); input.select(); e.preventDefault(); } }
    else if (key === "c") { if (comment) { comment.focus(); e.preventDefault(); } }
  });
})();
