
// Keyboard use. Streamlit's "skip to main content" link (the first Tab of every page) focuses
// <main> itself: the next Tabs still walked the headings' anchor links before the first field
// (five Tabs to the sign-in page's e-mail field). Enter on it now focuses the content's first
// control instead, the page's own chrome (the sign-out button) and the headings' anchors
// left out: the e-mail field on the sign-in page. Without any, Streamlit's handler runs.
(function () {
  "use strict";
  var CONTROLS = [
    "input:not([type='hidden']):not([disabled])",
    "textarea:not([disabled])",
    "select:not([disabled])",
    "button:not([disabled])",
    "a[href]",
    "[tabindex]:not([tabindex='-1'])",
  ].join(",");
  var LEFT_OUT = "[data-testid='stHeaderActionElements'], [class*='st-key-chrome_']";

  function firstControl(main) {
    var all = main.querySelectorAll(CONTROLS);
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      if (el.closest(LEFT_OUT)) continue;
      if (!el.getClientRects().length) continue;  // not displayed
      return el;
    }
    return null;
  }

  document.addEventListener(
    "click",
    function (event) {
      var link = event.target.closest && event.target.closest("[data-testid='stSkipToContent']");
      if (!link) return;
      var main = document.querySelector("[data-testid='stMain']");
      var target = main && firstControl(main);
      if (!target) return;
      event.preventDefault();
      event.stopPropagation();
      target.focus();
    },
    true
  );
})();

// The meeting page's live-events component is an invisible frame (height 0): out of the Tab
// order, where it was a stop with nothing to see between the case and the chat.
(function () {
  "use strict";
  var HIDDEN_FRAMES = "iframe[title$='rcp_live_events']:not([tabindex])";
  function untab() {
    var frames = document.querySelectorAll(HIDDEN_FRAMES);
    for (var i = 0; i < frames.length; i++) frames[i].setAttribute("tabindex", "-1");
  }
  function start() {
    new MutationObserver(untab).observe(document.body, { childList: true, subtree: true });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
