// Streamlit's own words in the page's language (served by rcp/web_i18n.py, which puts the
// table of this language before this code: window.__RCP_I18N__).
//
// Streamlit's frontend writes its widgets' inner texts in English and has no setting for
// them ("Drag and drop files here", "Choose an option", "Main menu", "Show password"...).
// This script runs before Streamlit's bundle and:
//   1. makes navigator.language the page's language, so that what Streamlit localises by
//      itself (date fields "jj/mm/aaaa", number and date formats in tables) follows the
//      page and not the browser;
//   2. replaces, in the page and in attributes read by screen readers (aria-label,
//      placeholder, title), Streamlit's English strings found exactly in the table, as soon
//      as Streamlit draws them (a MutationObserver).
// What the application writes itself (markdown, labels, options, user text, tables) is never
// touched: those zones are skipped, so a user's text that happens to read "None" stays so.
(function () {
  "use strict";
  var cfg = window.__RCP_I18N__;
  if (!cfg) return;
  document.documentElement.lang = cfg.lang;
  try {
    Object.defineProperty(Navigator.prototype, "language", {
      configurable: true,
      get: function () { return cfg.locale; },
    });
    Object.defineProperty(Navigator.prototype, "languages", {
      configurable: true,
      get: function () { return [cfg.locale, cfg.lang]; },
    });
  } catch (e) { /* an old browser keeps its own language for dates */ }

  var texts = new Map(Object.entries(cfg.texts));
  var patterns = cfg.patterns.map(function (p) { return [new RegExp(p[0]), p[1]]; });
  var scoped = cfg.scoped.map(function (s) { return [s[0], new Map(Object.entries(s[1]))]; });
  var ATTRIBUTES = ["aria-label", "placeholder", "title", "aria-description"];
  // What the application draws: never translated.
  var SKIP = [
    "[data-testid='stMarkdownContainer']",
    "[data-testid='stWidgetLabel']",
    "[data-testid='stText']",
    "[data-testid='stCode']",
    "[data-testid='stChatMessageContent']",
    "[data-testid='stTable']",
    "[data-testid='stHeadingWithActionElements'] > :not(a)",
    "[role='option']",
    "iframe",
    "textarea",
    "[data-rcp-i18n='skip']",
  ].join(",");

  function translate(value, element) {
    if (!value) return null;
    var trimmed = value.trim();
    if (!trimmed) return null;
    for (var i = 0; i < scoped.length; i++) {
      if (element && element.closest(scoped[i][0])) {
        var local = scoped[i][1].get(trimmed);
        if (local !== undefined && local !== trimmed) return value.replace(trimmed, local);
      }
    }
    var hit = texts.get(trimmed);
    if (hit !== undefined) return hit === trimmed ? null : value.replace(trimmed, hit);
    for (var j = 0; j < patterns.length; j++) {
      if (patterns[j][0].test(trimmed)) {
        var out = trimmed.replace(patterns[j][0], patterns[j][1]);
        return out === trimmed ? null : value.replace(trimmed, out);
      }
    }
    return null;
  }

  // Streamlit's own buttons that it writes through a markdown container ("Upload" of the
  // file uploader): translated although they sit in a zone skipped above.
  var OWN = "[data-testid='stFileUploaderDropzone'] button";

  function skipped(element) {
    if (!element || !element.closest) return true;
    if (element.closest(OWN) !== null) return false;
    return element.closest(SKIP) !== null;
  }

  function fixText(node) {
    var parent = node.parentElement;
    if (skipped(parent)) return;
    var out = translate(node.nodeValue, parent);
    if (out !== null) node.nodeValue = out;
  }

  function fixAttributes(element) {
    if (skipped(element)) return;
    for (var i = 0; i < ATTRIBUTES.length; i++) {
      var value = element.getAttribute(ATTRIBUTES[i]);
      if (value) {
        var out = translate(value, element);
        if (out !== null) element.setAttribute(ATTRIBUTES[i], out);
      }
    }
  }

  function fixTree(root) {
    if (root.nodeType === Node.TEXT_NODE) {
      fixText(root);
      return;
    }
    if (root.nodeType !== Node.ELEMENT_NODE) return;
    fixAttributes(root);
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    var node;
    while ((node = walker.nextNode())) {
      if (node.nodeType === Node.TEXT_NODE) fixText(node);
      else fixAttributes(node);
    }
  }

  var observer = new MutationObserver(function (mutations) {
    for (var i = 0; i < mutations.length; i++) {
      var m = mutations[i];
      if (m.type === "childList") {
        for (var k = 0; k < m.addedNodes.length; k++) fixTree(m.addedNodes[k]);
      } else if (m.type === "characterData") {
        fixText(m.target);
      } else if (m.type === "attributes") {
        fixAttributes(m.target);
      }
    }
  });

  function start() {
    if (cfg.title && document.title === "Streamlit") document.title = cfg.title;
    fixTree(document.body);
    observer.observe(document.body, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
      attributeFilter: ATTRIBUTES,
    });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
