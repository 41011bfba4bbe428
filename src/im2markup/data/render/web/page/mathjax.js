// MathJax 3 (SVG output) for untrusted input: every extension is bundled, so nothing is loaded
// on demand; \require, autoloading and the html extension (\href, \class, \style, \cssId) are
// off, undefined macros are errors, macro expansion and input size are bounded, and any TeX
// error fails the formula instead of being drawn as an error box.
"use strict";

window.MathJax = {
  loader: { load: [] },
  tex: {
    packages: { "[-]": ["require", "autoload", "html", "noundefined", "noerrors"] },
    maxMacros: 1000,
    maxBuffer: 5 * 1024,
    formatError: (jax, error) => {
      throw error;
    },
  },
  svg: { fontCache: "local" },
  options: { enableMenu: false, enableAssistiveMml: false, enableEnrichment: false },
  startup: {
    typeset: false,
    ready: () => {
      MathJax.startup.defaultReady();
      MathJax.startup.promise.then(() => {
        document.head.append(MathJax.svgStylesheet()); // the styles a typeset page gets
        window.typesetReady = true;
      });
    },
  },
};

window.typesetOne = (tex, element) => {
  const node = MathJax.tex2svg(tex, { display: true });
  const failed = node.querySelector("[data-mjx-error]");
  if (failed !== null) {
    throw new Error(failed.getAttribute("data-mjx-error"));
  }
  element.append(node);
};
