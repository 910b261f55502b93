// ReplyDesk keyboard shortcuts: j/k move in a list, Enter opens, r focuses the reply,
// e approves the selected (or focused) draft, "/" focuses search, "?" shows the shortcuts.
// Hand-written, no dependencies.
(function () {
  "use strict";
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function items() {
    var list = document.querySelector("main [data-list]");
    return list ? Array.prototype.slice.call(list.querySelectorAll("[data-item]")) : [];
  }
  function move(step) {
    var all = items();
    if (!all.length) return;
    var at = all.findIndex(function (el) { return el.classList.contains("selected"); });
    var next = Math.max(0, Math.min(all.length - 1, at < 0 ? 0 : at + step));
    if (at >= 0) all[at].classList.remove("selected");
    var el = all[next];
    el.classList.add("selected");
    var target = el.querySelector("a") || el;
    if (target === el && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    target.focus();
    el.scrollIntoView({ block: "nearest" });
  }
  function approveDraft() {
    // The draft j/k selected, else the one holding the focus; its approve button posts the
    // text as it stands (an edit in its text area included).
    var draft = document.querySelector("main [data-draft].selected") ||
      (document.activeElement && document.activeElement.closest &&
       document.activeElement.closest("[data-draft]"));
    var button = draft && draft.querySelector("[data-approve]");
    if (!button) return false;
    button.click();
    return true;
  }
  function showHelp() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "Enter") {
      var selected = document.querySelector("main [data-item].selected a");
      if (selected && document.activeElement !== selected) { selected.click(); event.preventDefault(); }
    }
    else if (event.key === "e") { if (approveDraft()) event.preventDefault(); }
    else if (event.key === "r") {
      var reply = document.getElementById("reply");
      if (reply) { reply.focus(); event.preventDefault(); }
    }
    else if (event.key === "/") {
      var search = document.getElementById("q");
      if (search) { search.focus(); event.preventDefault(); }
    }
    else if (event.key === "?") { showHelp(); event.preventDefault(); }
  });
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.requestSubmit();
  });
  document.addEventListener("click", function (event) {
    if (event.target && event.target.id === "shortcuts-open") showHelp();
  });
})();
